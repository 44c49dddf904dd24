// The storage account of the app: the Functions host's own state (AzureWebJobsStorage), the blob flow's
// containers and queue, and the Flex Consumption deployment package. Shared keys are off: everything
// authenticates with Microsoft Entra ID.

@description('Name of the storage account.')
param name string

@description('Location of the storage account.')
param location string

@description('Tags for the storage account.')
param tags resourceInput<'Microsoft.Storage/storageAccounts@2026-06-01'>.tags

// The app's containers: the constants in FunctionApp/Storage/StorageOptions.cs (the tests compare the two). The app
// also creates them at start where its identity may; declaring them here means it never has to in Azure.
var appContainerNames = [
  'images'
  'predictions'
  'preprocessed'
  'thumbnails'
  'images-failed'
  'batches'
  'batch-results'
  'models'
  'chains'
  'chain-images'
  'chain-results'
  'azure-webjobs-hosts'
]

// The app's queues: batch chunks and slice-chain steps, their poison queues, and the queue where the blob trigger
// parks an upload that failed every try (the app reads all three poison queues and records the failures).
var appQueueNames = [
  'slice-steps'
  'slice-steps-poison'
  'batch-chunks'
  'batch-chunks-poison'
  'webjobs-blobtrigger-poison'
]

resource storage 'Microsoft.Storage/storageAccounts@2026-06-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2026-06-01' = {
  parent: storage
  name: 'default'
}

resource appContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-06-01' = [
  for containerName in appContainerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

// Flex Consumption runs the package azd deploy uploads here (functionAppConfig.deployment.storage).
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2026-06-01' = {
  parent: blobService
  name: 'app-package'
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2026-06-01' = {
  parent: storage
  name: 'default'
}

resource appQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2026-06-01' = [
  for queueName in appQueueNames: {
    parent: queueService
    name: queueName
  }
]

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output tableEndpoint string = storage.properties.primaryEndpoints.table
output deploymentContainerName string = deploymentContainer.name
