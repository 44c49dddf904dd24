#!/usr/bin/env sh
# azd postdeploy hook: creates (or updates) the Event Grid subscriptions that feed the app's Event Grid blob
# triggers, by deploying infra/app/eventgrid-subscriptions.bicep into the environment's resource group.
#
# Why after the code: each subscription's webhook carries the app's blobs_extension system key, and the
# Functions host creates that key only when it first starts with an Event Grid blob trigger, i.e. after
# `azd deploy`. Creating a subscription also makes Event Grid call the webhook to validate it, which only a
# running app can answer. The key never passes through this script: the template reads it with listKeys.
#
# Needs: az (logged in to the same tenant as azd), and the azd environment values azd gives its hooks
# (AZURE_RESOURCE_GROUP, AZURE_FUNCTION_APP_NAME, SERVICE_API_HOST_NAME, EVENTGRID_SYSTEM_TOPIC_NAME).
# Run it again by hand with: azd hooks run postdeploy
set -eu

cd "$(dirname "$0")/../.."

command -v az >/dev/null 2>&1 || { echo "The Azure CLI (az) is required to create the Event Grid subscriptions." >&2; exit 1; }

value() {
  # The hook's environment first, then the azd environment (when the script is run by hand).
  eval "current=\${$1:-}"
  if [ -z "$current" ] && command -v azd >/dev/null 2>&1; then
    current=$(azd env get-value "$1" 2>/dev/null || true)
  fi
  [ -n "$current" ] || { echo "$1 is not set: run azd provision first." >&2; exit 1; }
  printf '%s' "$current"
}

group=$(value AZURE_RESOURCE_GROUP)
app=$(value AZURE_FUNCTION_APP_NAME)
host=$(value SERVICE_API_HOST_NAME)
topic=$(value EVENTGRID_SYSTEM_TOPIC_NAME)

if [ -n "${AZURE_SUBSCRIPTION_ID:-}" ]; then
  az account set --subscription "$AZURE_SUBSCRIPTION_ID"
fi

# Wake the app (Flex Consumption scales to zero) so the host starts, loads the blob extension and creates
# the key; then wait until the key is listed. Only whether it exists is printed, never the key.
echo "Waiting for the blobs_extension key of $app ..."
attempt=0
while :; do
  az rest --method get --skip-authorization-header --url "https://$host/api/health/live" --output none >/dev/null 2>&1 || true
  exists=$(az functionapp keys list --resource-group "$group" --name "$app" --query "systemKeys.blobs_extension != null" --output tsv 2>/dev/null || true)
  [ "$exists" = "true" ] && break
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 30 ]; then
    echo "The blobs_extension key of $app did not appear within 5 minutes. Check that the deployment succeeded and that ProcessImageEventGrid is listed (az functionapp function list -g $group -n $app), then run: azd hooks run postdeploy" >&2
    exit 1
  fi
  sleep 10
done

# Event Grid validates each new webhook against the app; a cold instance can miss that handshake, so try
# a few times (the deployment is idempotent).
attempt=0
until az deployment group create \
  --resource-group "$group" \
  --name eventgrid-subscriptions \
  --template-file infra/app/eventgrid-subscriptions.bicep \
  --parameters systemTopicName="$topic" functionAppName="$app" \
  --output none; do
  attempt=$((attempt + 1))
  if [ "$attempt" -ge 3 ]; then
    echo "Creating the Event Grid subscriptions failed 3 times; run again with: azd hooks run postdeploy" >&2
    exit 1
  fi
  echo "Retrying in 30 seconds ..."
  sleep 30
done

echo "Event Grid subscriptions on $topic deliver BlobCreated events of images/, batches/, models/ and chain-images/ to $app."
