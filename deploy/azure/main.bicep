// acr-refresh on Azure Functions (Linux, Python 3.11): storage, Application Insights, a user-assigned
// managed identity with AcrPull (or AcrPush) on the registries and Key Vault Secrets Officer on the vaults,
// the app settings the app reads, and alerts when the refresh fails or has not succeeded for two periods.
// Not compiled here (no Bicep CLI in CI); `az bicep build --file deploy/azure/main.bicep` checks it.

@description('Base name for every resource.')
param name string = 'acr-refresh'

@description('Location of every resource.')
param location string = resourceGroup().location

@description('Registries (in this resource group) the identity may pull from.')
param registryNames array = []

@description('AcrPull, or AcrPush when generators need push scopes.')
@allowed(['AcrPull', 'AcrPush'])
param registryRole string = 'AcrPull'

@description('Key Vaults (in this resource group) the identity writes KeyVaultSecret targets to.')
param vaultNames array = []

@description('NCRONTAB schedule of the timer (six fields).')
param schedule string = '0 */30 * * * *'

@description('Schedule period in minutes, for the "has not succeeded" alert.')
param schedulePeriodMinutes int = 30

@description('Config path inside the app (a folder shipped with the app by default).')
param configPath string = 'config'

@description('Where alerts go (an Action Group resource ID); empty: no notification.')
param actionGroupId string = ''

@description('Send the run metrics to Application Insights (ACR_REFRESH_METRICS=azure-monitor; metrics only, docs/operations.md) and alert on them.')
param metricsEnabled bool = true

@description('Alert when a credential expires within this many seconds.')
param expiryMarginSeconds int = 3600

@description('Alert when a target failed this many runs in a row.')
param failedRunsInARow int = 3

var suffix = uniqueString(resourceGroup().id, name)
var roleIds = {
  AcrPull: '7f951dda-4ed3-4680-a7ca-43fe172d538d'
  AcrPush: '8311e382-0749-4cb8-b61a-304f252e45ec'
  KeyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-id'
  location: location
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take(toLower(replace('${name}${suffix}', '-', '')), 24)
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    supportsHttpsTrafficOnly: true
  }
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${name}-logs'
  location: location
  properties: { retentionInDays: 30, sku: { name: 'PerGB2018' } }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${name}-ai'
  location: location
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: workspace.id }
}

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: '${name}-plan'
  location: location
  kind: 'functionapp'
  sku: { name: 'Y1', tier: 'Dynamic' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2023-12-01' = {
  name: '${name}-${suffix}'
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      linuxFxVersion: 'Python|3.11'
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      appSettings: [
        { name: 'FUNCTIONS_EXTENSION_VERSION', value: '~4' }
        { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'python' }
        { name: 'AzureWebJobsStorage', value: 'DefaultEndpointsProtocol=https;AccountName=${storage.name};EndpointSuffix=${environment().suffixes.storage};AccountKey=${storage.listKeys().keys[0].value}' }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'ACR_REFRESH_SCHEDULE', value: schedule }
        { name: 'ACR_REFRESH_CONFIG', value: configPath }
        // The connection string above turns nothing on by itself; this does (metrics only).
        { name: 'ACR_REFRESH_METRICS', value: metricsEnabled ? 'azure-monitor' : '' }
        // The ambient identity (KeyVaultSecret targets without auth; generators with managedIdentity
        // use identityId = this client ID).
        { name: 'AZURE_CLIENT_ID', value: identity.properties.clientId }
      ]
    }
  }
}

resource registries 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = [for r in registryNames: {
  name: r
}]

resource registryAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (r, i) in registryNames: {
  name: guid(resourceGroup().id, r, identity.id, registryRole)
  scope: registries[i]
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds[registryRole])
  }
}]

resource vaults 'Microsoft.KeyVault/vaults@2023-07-01' existing = [for v in vaultNames: {
  name: v
}]

resource vaultAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (v, i) in vaultNames: {
  name: guid(resourceGroup().id, v, identity.id, 'KeyVaultSecretsOfficer')
  scope: vaults[i]
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.KeyVaultSecretsOfficer)
  }
}]

// Fires when a timer invocation fails (the app fails it when any generator or target failed).
resource failedAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${name}-failed'
  location: location
  properties: {
    displayName: 'acr-refresh: a refresh failed'
    severity: 2
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'requests | where operation_Name == "refresh_timer" and success == false'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: empty(actionGroupId) ? [] : [actionGroupId] }
  }
}

// Fires when no timer invocation succeeded for two schedule periods (stopped app, broken schedule, ...).
resource staleAlert 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: '${name}-not-succeeding'
  location: location
  properties: {
    displayName: 'acr-refresh: no successful refresh for two periods'
    severity: 1
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT${2 * schedulePeriodMinutes}M'
    criteria: {
      allOf: [
        {
          query: 'requests | where operation_Name == "refresh_timer" and success == true'
          timeAggregation: 'Count'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: empty(actionGroupId) ? [] : [actionGroupId] }
  }
}

// Alerts on the run metrics (customMetrics in Application Insights, docs/operations.md), matching
// deploy/prometheus/acr-refresh.rules.yml. Each looks at the latest value of each series in the last day
// (the warm app re-exports the last run's gauges every minute). The Functions app is never sharded, so the
// rules' shard alerts have no counterpart here. Not compiled here (no Bicep CLI): see the file's header.
var nowSeconds = 'datetime_diff("second", now(), datetime(1970-01-01))'
var targetName = 'strcat(tostring(customDimensions.kind), " ", tostring(customDimensions.cluster), tostring(customDimensions.vault), " ", tostring(customDimensions.namespace), "/", tostring(customDimensions.name), tostring(customDimensions.secret))'
var metricAlerts = [
  {
    key: 'expires-soon'
    displayName: 'acr-refresh: a credential expires within the margin'
    severity: 2
    query: 'customMetrics | where name == "acr_refresh_credential_expiry_timestamp_seconds" | extend target = ${targetName} | summarize arg_max(timestamp, value) by target | where value - ${nowSeconds} < ${expiryMarginSeconds}'
  }
  {
    key: 'expired'
    displayName: 'acr-refresh: a credential has EXPIRED'
    severity: 0
    query: 'customMetrics | where name == "acr_refresh_credential_expiry_timestamp_seconds" | extend target = ${targetName} | summarize arg_max(timestamp, value) by target | where value <= ${nowSeconds}'
  }
  {
    key: 'target-failing'
    displayName: 'acr-refresh: a target failed ${failedRunsInARow} runs in a row'
    severity: 2
    query: 'customMetrics | where name == "acr_refresh_target_consecutive_failures" | extend target = ${targetName} | summarize arg_max(timestamp, value) by target | where value >= ${failedRunsInARow}'
  }
  {
    key: 'no-clean-run'
    displayName: 'acr-refresh: no run without failures for two periods'
    severity: 1
    query: 'customMetrics | where name == "acr_refresh_last_success_timestamp_seconds" | summarize last = max(value) | where ${nowSeconds} - last > ${2 * schedulePeriodMinutes * 60}'
  }
]

resource metricAlertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for a in metricAlerts: if (metricsEnabled) {
  name: '${name}-${a.key}'
  location: location
  properties: {
    displayName: a.displayName
    severity: a.severity
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT15M'
    windowSize: 'P1D'
    criteria: {
      allOf: [
        {
          query: a.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: { actionGroups: empty(actionGroupId) ? [] : [actionGroupId] }
  }
}]

output functionAppName string = app.name
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
