// One Event Grid subscription per Event Grid blob trigger of the app (Source = BlobTriggerSource.EventGrid in
// FunctionApp/Functions), each delivering BlobCreated events of one container to the blob extension's
// webhook. Deployed by infra/scripts/eventgrid-subscriptions.sh after the code, because the webhook needs
// the blobs_extension system key, which the host creates when it first starts with those functions.
// The trailing slash of each subject filter matters: 'images/' must not match 'images-failed/'.

@description('Name of the storage account\'s Event Grid system topic (output EVENTGRID_SYSTEM_TOPIC_NAME).')
param systemTopicName string

@description('Name of the function app (output AZURE_FUNCTION_APP_NAME).')
param functionAppName string

resource site 'Microsoft.Web/sites@2025-03-01' existing = {
  name: functionAppName
}

var webhook = 'https://${site.properties.defaultHostName}/runtime/webhooks/blobs'

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' existing = {
  name: systemTopicName
}

resource processImage 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'process-image'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: '${webhook}?functionName=Host.Functions.ProcessImageEventGrid&code=${uriComponent(listKeys('${site.id}/host/default', site.apiVersion).systemKeys.blobs_extension)}'
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/images/'
    }
  }
}

resource processBatch 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'process-batch'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: '${webhook}?functionName=Host.Functions.ProcessBatchEventGrid&code=${uriComponent(listKeys('${site.id}/host/default', site.apiVersion).systemKeys.blobs_extension)}'
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/batches/'
    }
  }
}

resource modelPublished 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'model-published'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: '${webhook}?functionName=Host.Functions.ModelPublishedEventGrid&code=${uriComponent(listKeys('${site.id}/host/default', site.apiVersion).systemKeys.blobs_extension)}'
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/models/'
    }
  }
}

resource startChain 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'start-chain'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: '${webhook}?functionName=Host.Functions.StartChainFromBlobEventGrid&code=${uriComponent(listKeys('${site.id}/host/default', site.apiVersion).systemKeys.blobs_extension)}'
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/chain-images/'
    }
  }
}
