// The function app on a Flex Consumption plan (Linux, .NET 10 isolated worker), running as the user-assigned
// identity. Every connection is identity-based: no setting holds a key.

@description('Name of the function app.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Location of the plan and the app.')
param location string

@description('Tags for the plan and the app (the app also gets azd-service-name).')
param tags resourceInput<'Microsoft.Web/sites@2025-03-01'>.tags

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

@description('Blob endpoint of the storage account (https://<account>.blob.core.windows.net/).')
param blobEndpoint string

@description('Queue endpoint of the storage account.')
param queueEndpoint string

@description('Table endpoint of the storage account.')
param tableEndpoint string

@description('Container of the storage account that holds the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string (not a secret: local authentication is off).')
param applicationInsightsConnectionString string

@description('Memory of each instance in MB.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Instances of the HTTP functions kept started (billed while idle); 0 for none.')
@minValue(0)
@maxValue(100)
param alwaysReadyInstanceCount int

@description('The model used when a request names none (Models:Default).')
param defaultModel string

@description('Where model packages come from (Models:Source): Local (bundled with the app) or Blob (the models container).')
@allowed(['Local', 'Blob'])
param modelSource string

@description('When the default model loads (Models:WarmUp): Lazy (first use) or Eager (at instance start).')
@allowed(['Lazy', 'Eager'])
param modelWarmUp string

@description('Prediction engines per model version on each instance (EnginePool:MaxEngines).')
@minValue(1)
@maxValue(64)
param maxEngines int

@description('Whether the KeepWarm timer runs.')
param keepWarmEnabled bool

@description('NCRONTAB schedule of the KeepWarm timer.')
param keepWarmSchedule string

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReadyInstanceCount > 0
          ? [
              {
                name: 'http'
                instanceCount: alwaysReadyInstanceCount
              }
            ]
          : []
      }
    }
  }
}

resource hostSettings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    // Host storage and the app's own blob flow (FunctionApp/Storage/BlobStorage.cs reads the same settings).
    AzureWebJobsStorage__blobServiceUri: blobEndpoint
    AzureWebJobsStorage__queueServiceUri: queueEndpoint
    AzureWebJobsStorage__tableServiceUri: tableEndpoint
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    // Telemetry through the identity (Application Insights has local authentication off).
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // Flex Consumption runs only Event Grid blob triggers: the polling twins are off, the *EventGrid ones
    // stay on and are fed by the subscriptions infra/scripts/eventgrid-subscriptions.sh creates.
    'AzureWebJobs.ProcessImage.Disabled': 'true'
    'AzureWebJobs.ProcessBatch.Disabled': 'true'
    'AzureWebJobs.ModelPublished.Disabled': 'true'
    'AzureWebJobs.StartChainFromBlob.Disabled': 'true'
    // The site root is the try-it page, not the host's landing page.
    AzureWebJobsDisableHomepage: 'true'
    // The timer's schedule must exist for the host to index KeepWarm, even while it is off.
    'AzureWebJobs.KeepWarm.Disabled': keepWarmEnabled ? 'false' : 'true'
    KeepWarmSchedule: keepWarmSchedule
    // The inference app's own settings (README, Configuration).
    Models__Default: defaultModel
    Models__Source: modelSource
    Models__WarmUp: modelWarmUp
    EnginePool__MaxEngines: string(maxEngines)
    OnnxRuntime__AllowSpinning: 'false'
    // glibc's heaps capped at two (one per core of an instance), read when a process starts, so only from the
    // environment: with its default of eight per core, the request threads spread their image buffers over a dozen
    // heaps, and the free memory each keeps raised peak RSS by about 13 MB (README, Benchmarks).
    MALLOC_ARENA_MAX: '2'
  }
}

// azd deploys with Microsoft Entra ID; basic (publishing profile) credentials stay off.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output hostName string = site.properties.defaultHostName
output uri string = 'https://${site.properties.defaultHostName}'
