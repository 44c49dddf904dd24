// The Event Grid system topic of the storage account: the source of the BlobCreated events that feed the
// app's Event Grid blob triggers. Its subscriptions need the app's blobs_extension key, which exists only
// once the code runs, so they are created after deployment (eventgrid-subscriptions.bicep, from the
// postdeploy hook in azure.yaml).

@description('Name of the system topic.')
param name string

@description('Location of the storage account (a system topic lives where its source does).')
param location string

@description('Tags for the system topic.')
param tags resourceInput<'Microsoft.EventGrid/systemTopics@2025-02-15'>.tags

@description('Resource id of the storage account whose events the topic carries.')
param storageAccountId string

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = topic.name
