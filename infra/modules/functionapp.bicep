// The Flex Consumption (FC1) plan and the Python 3.11 function app, running as the user-assigned
// identity, with every app setting the connector reads.

param location string
param tags object
param planName string
param siteName string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param vaultUri string
param insightsConnectionString string
param instanceMemoryMB int
param maximumInstanceCount int
param credlyOrganizations array
param credlyApiUrl string
param credlyWebUrl string
param graphApiUrl string
param graphConnectionId string
param graphAuth string
param graphClientId string
param incrementalCrawlSchedule string
param fullCrawlSchedule string
param includeExpired bool
param indexSkills bool
param crawlLeaseMinutes int
param graphWriteConcurrency int
param graphWriteRate string
param credlyMaxConcurrency int
param credlyRate string
param profileBatchSize int

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

// --- app settings: begin ----------------------------------------------------------------------
// tests/infra/test_settings_parity.py reads the `name:` entries between the begin and end
// markers and compares them with credly_connector.settings.KNOWN_SETTINGS. Deliberately absent
// (local development only): AzureWebJobsStorage (a connection string; the storage account has
// no keys), STORAGE_PREFIX, GRAPH_ACCESS_TOKEN, GRAPH_CA_FILE, FUNCTIONS_WORKER_RUNTIME (Flex
// takes the runtime from functionAppConfig), and the single-organisation shorthand
// CREDLY_ORGANIZATION_ID / CREDLY_AUTH_TOKEN / CREDLY_CLIENT_ID / CREDLY_CLIENT_SECRET (a
// deployment always lists its organisations in CREDLY_ORGANIZATIONS).

// A Key Vault reference without a secret version, so a rotated secret is picked up.
var secretUriPrefix = '@Microsoft.KeyVault(SecretUri=${vaultUri}secrets/'

// The n-th organisation (from 1) reads its secret from CREDLY_TOKEN_<n>, or from
// CREDLY_CLIENT_ID_<n> + CREDLY_CLIENT_SECRET_<n>, as named in CREDLY_ORGANIZATIONS (the code
// ignores the setting names left empty).
var organizationEntries = [
  for (org, i) in credlyOrganizations: {
    id: org.id
    authTokenSetting: org.auth == 'token' ? 'CREDLY_TOKEN_${i + 1}' : ''
    clientIdSetting: org.auth == 'token' ? '' : 'CREDLY_CLIENT_ID_${i + 1}'
    clientSecretSetting: org.auth == 'token' ? '' : 'CREDLY_CLIENT_SECRET_${i + 1}'
  }
]
// Each organisation yields its secret setting here and, with OAuth client credentials, its
// client id in the next list. A token organisation repeats its token setting there: union()
// keeps one copy of identical entries, so no filter (a lambda, which checkov's parser rejects)
// is needed.
var organizationSecretSettings = [
  for (org, i) in credlyOrganizations: {
    name: org.auth == 'token' ? 'CREDLY_TOKEN_${i + 1}' : 'CREDLY_CLIENT_SECRET_${i + 1}'
    value: '${secretUriPrefix}${org.auth == 'token' ? 'credly-token' : 'credly-client-secret'}-${i + 1}/)'
  }
]
var organizationClientIdSettings = [
  for (org, i) in credlyOrganizations: {
    name: org.auth == 'token' ? 'CREDLY_TOKEN_${i + 1}' : 'CREDLY_CLIENT_ID_${i + 1}'
    value: org.auth == 'token' ? '${secretUriPrefix}credly-token-${i + 1}/)' : org.clientId
  }
]

var graphSecretSetting = [
  { name: 'AZURE_CLIENT_SECRET', value: '${secretUriPrefix}graph-client-secret/)' }
]
var graphSecretSettings = graphAuth == 'clientSecret' ? graphSecretSetting : []

var baseSettings = [
  // Host storage and the connector's own queue/table clients, keyless through the identity.
  { name: 'AzureWebJobsStorage__accountName', value: account.name }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: account.properties.primaryEndpoints.queue }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: account.properties.primaryEndpoints.table }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  // Telemetry: OpenTelemetry through the worker, authenticated with the identity.
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
  { name: 'PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY', value: 'true' }
  // Credly.
  { name: 'CREDLY_ORGANIZATIONS', value: string(organizationEntries) }
  { name: 'CREDLY_API_URL', value: credlyApiUrl }
  { name: 'CREDLY_WEB_URL', value: credlyWebUrl }
  { name: 'CREDLY_MAX_CONCURRENCY', value: string(credlyMaxConcurrency) }
  { name: 'CREDLY_RATE', value: credlyRate }
  // Microsoft Graph: the managed identity's client id, or the app registration's.
  { name: 'GRAPH_API_URL', value: graphApiUrl }
  { name: 'GRAPH_CONNECTION_ID', value: graphConnectionId }
  { name: 'AZURE_TENANT_ID', value: tenant().tenantId }
  { name: 'AZURE_CLIENT_ID', value: graphAuth == 'clientSecret' ? graphClientId : identityClientId }
  // Crawls.
  { name: 'INCREMENTAL_CRAWL_SCHEDULE', value: incrementalCrawlSchedule }
  { name: 'FULL_CRAWL_SCHEDULE', value: fullCrawlSchedule }
  { name: 'INCLUDE_EXPIRED', value: includeExpired ? 'true' : 'false' }
  { name: 'INDEX_SKILLS', value: indexSkills ? 'true' : 'false' }
  { name: 'CRAWL_LEASE_MINUTES', value: string(crawlLeaseMinutes) }
  { name: 'GRAPH_WRITE_CONCURRENCY', value: string(graphWriteConcurrency) }
  { name: 'GRAPH_WRITE_RATE', value: graphWriteRate }
  { name: 'PROFILE_BATCH_SIZE', value: string(profileBatchSize) }
]
// --- app settings: end ------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
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

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: siteName
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
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: union(baseSettings, graphSecretSettings, organizationSecretSettings, organizationClientIdSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${account.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

output siteName string = site.name
output defaultUrl string = 'https://${site.properties.defaultHostName}'
