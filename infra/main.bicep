// azd up: a resource group with the function app on Flex Consumption, its storage, Application Insights, the
// identity it runs as and the Event Grid system topic of its storage account. The Event Grid subscriptions
// are added after the code is deployed (azure.yaml postdeploy hook): see README.md beside this file.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; with the subscription and location it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Location of every resource. Flex Consumption is offered in a subset of regions.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the user (or service principal) running azd, given Storage Blob Data Contributor to upload images and models; empty for none.')
param principalId string = ''

@description('Memory of each function app instance in MB. The bundled model with 4 engines peaks near 0.5 GB; 2048 leaves room for a larger model and gives one vCPU.')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Most instances the function app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances of the HTTP functions (billed while idle); 0 scales to zero.')
@minValue(0)
@maxValue(100)
param alwaysReadyInstanceCount int = 0

@description('The model used when a request names none (Models__Default).')
param defaultModel string = 'fashion-resnet18'

@description('Where model packages come from (Models__Source): Local, the packages deployed with the app; Blob, packages published to the models container.')
@allowed(['Local', 'Blob'])
param modelSource string = 'Local'

@description('When each instance loads the default model (Models__WarmUp): Eager, at start; Lazy, on first use.')
@allowed(['Lazy', 'Eager'])
param modelWarmUp string = 'Eager'

@description('Prediction engines per model version on each instance (EnginePool__MaxEngines).')
@minValue(1)
@maxValue(64)
param maxEngines int = 4

@description('Whether the KeepWarm timer runs (AzureWebJobs.KeepWarm.Disabled is its opposite).')
param keepWarmEnabled bool = false

@description('NCRONTAB schedule of the KeepWarm timer (KeepWarmSchedule).')
param keepWarmSchedule string = '0 */5 * * * *'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var names = {
  resourceGroup: 'rg-${environmentName}'
  identity: 'id-func-${resourceToken}'
  storage: 'st${resourceToken}'
  logAnalytics: 'log-${resourceToken}'
  applicationInsights: 'appi-${resourceToken}'
  plan: 'plan-${resourceToken}'
  functionApp: 'func-${resourceToken}'
  systemTopic: 'evgt-st${resourceToken}'
}

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: names.storage
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: names.logAnalytics
    applicationInsightsName: names.applicationInsights
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: names.storage
    applicationInsightsName: names.applicationInsights
    identityName: names.identity
    principalId: principalId
  }
  dependsOn: [
    identity
    storage
    monitoring
  ]
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyInstanceCount: alwaysReadyInstanceCount
    defaultModel: defaultModel
    modelSource: modelSource
    modelWarmUp: modelWarmUp
    maxEngines: maxEngines
    keepWarmEnabled: keepWarmEnabled
    keepWarmSchedule: keepWarmSchedule
  }
  // The host starts as soon as the app exists: its identity must already reach storage and telemetry.
  dependsOn: [
    rbac
  ]
}

module eventGrid 'app/eventgrid.bicep' = {
  name: 'eventgrid'
  scope: rg
  params: {
    name: names.systemTopic
    location: location
    tags: tags
    storageAccountId: storage.outputs.id
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_HOST_NAME string = api.outputs.hostName
output SERVICE_API_URI string = api.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output EVENTGRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
