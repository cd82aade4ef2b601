// The connector's Azure resources: Flex Consumption function app with a user-assigned managed
// identity, keyless storage with the pipeline's queues and tables, Key Vault for the Credly
// secrets, Log Analytics + Application Insights, the operations workbook and alert rules.
// Deploy with `azd up` (azure.yaml at the repository root) or `az deployment group create`.
targetScope = 'resourceGroup'

@minLength(1)
@maxLength(40)
@description('Name of the environment (azd sets it); used in resource names and the azd-env-name tag.')
param environmentName string

@description('Azure region for every resource except the global action group.')
param location string = resourceGroup().location

// --- Credly ---------------------------------------------------------------------------------

@description('Credly organisations to read. Each entry: {"id": "<organization GUID>", "auth": "token"} or {"id": "<GUID>", "auth": "client", "clientId": "<OAuth client id>"}. The n-th entry (from 1) reads its secret from the Key Vault secret credly-token-<n> or credly-client-secret-<n>, which the administrator stores after deployment.')
@minLength(1)
param credlyOrganizations array

@description('Credly API base URL (the sandbox is https://sandbox-api.credly.com/v1).')
param credlyApiUrl string = 'https://api.credly.com/v1'

@description('Credly web site base URL (the sandbox is https://sandbox.credly.com).')
param credlyWebUrl string = 'https://www.credly.com'

// --- Microsoft Graph ------------------------------------------------------------------------

@description('Microsoft Graph base URL.')
param graphApiUrl string = 'https://graph.microsoft.com/v1.0'

@description('The Graph connection id of the people-data connection (3-32 letters and digits).')
param graphConnectionId string = 'credlybadges'

@allowed([
  'managedIdentity'
  'clientSecret'
])
@description('How the app authenticates to Graph: the managed identity (recommended), or an app registration with a client secret kept in Key Vault.')
param graphAuth string = 'managedIdentity'

@description('The app registration\'s application (client) id, only with graphAuth = clientSecret; its secret goes to the Key Vault secret graph-client-secret.')
param graphClientId string = ''


// --- Crawls (defaults equal the code's defaults) ----------------------------------------------

@description('NCRONTAB (6 fields, UTC: Flex has no WEBSITE_TIME_ZONE) of the incremental crawl.')
param incrementalCrawlSchedule string = '0 0 2 * * *'

@description('NCRONTAB (6 fields, UTC) of the full crawl.')
param fullCrawlSchedule string = '0 0 3 * * 0'

@description('Show expired badges on profiles.')
param includeExpired bool = false

@description('Index badge skills as searchable profile skills.')
param indexSkills bool = false

@minValue(5)
@maxValue(1440)
@description('Minutes a crawl holds its organisation\'s lease.')
param crawlLeaseMinutes int = 60

@minValue(1)
@maxValue(64)
@description('Graph item writes in flight at once per instance.')
param graphWriteConcurrency int = 8

@description('Ceiling on Graph item writes per second per connection, shared by every instance (up to 1000); empty: the app finds the limit itself.')
param graphWriteRate string = ''

@minValue(1)
@maxValue(64)
@description('Credly requests in flight at once per organisation, shared by every instance.')
param credlyMaxConcurrency int = 4

@description('Credly requests per second per organisation, shared by every instance (empty: no rate).')
param credlyRate string = ''

@minValue(1)
@maxValue(500)
@description('People per profile batch message.')
param profileBatchSize int = 100

// --- Hosting --------------------------------------------------------------------------------

@allowed([
  512
  2048
  4096
])
@description('Flex Consumption instance memory in MB.')
param instanceMemoryMB int = 2048

@minValue(40)
@maxValue(1000)
@description('Flex Consumption maximum instance count.')
param maximumInstanceCount int = 40

@description('Blob container the deployment package is uploaded to.')
param deploymentContainerName string = 'app-package'

// --- Monitoring -----------------------------------------------------------------------------

@description('Email address that receives the alerts; empty creates the alert rules without a notification.')
param alertEmail string = ''

@description('Object id of the administrator allowed to store the secrets in Key Vault (azd passes the signed-in user); empty grants nobody.')
param administratorPrincipalId string = ''

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
@description('The kind of principal administratorPrincipalId is.')
param administratorPrincipalType string = 'User'

@minValue(30)
@maxValue(730)
@description('Log Analytics retention in days.')
param logRetentionDays int = 30

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var tags = {
  'azd-env-name': environmentName
}
var names = {
  identity: 'id-${environmentName}-${token}'
  storage: 'st${token}'
  vault: 'kv-${token}'
  workspace: 'log-${environmentName}-${token}'
  insights: 'appi-${environmentName}-${token}'
  plan: 'plan-${environmentName}-${token}'
  site: 'func-${environmentName}-${token}'
}

// The pipeline's queues (QUEUE_NAMES in credly_connector/pipeline/queues.py, plus the webhook
// queue) and the tables (TABLE_NAMES in credly_connector/stores/tables.py); tests/infra checks
// both lists against the code. Every queue gets its -poison queue.
var queueNames = [
  'crawl-start'
  'crawl-pages'
  'crawl-plan'
  'crawl-profiles'
  'crawl-finish'
  'credly-events'
]
var tableNames = [
  'crawls'
  'crawlsteps'
  'crawlsets'
  'leases'
  'orgstate'
  'badges'
  'badgeids'
  'expiries'
  'recipients'
  'people'
  'directory'
  'overrides'
  'previews'
  'events'
  'slots'
]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    tags: tags
    workspaceName: names.workspace
    insightsName: names.insights
    retentionDays: logRetentionDays
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    tags: tags
    accountName: names.storage
    deploymentContainerName: deploymentContainerName
    queueNames: queueNames
    tableNames: tableNames
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    tags: tags
    vaultName: names.vault
    credlyOrganizations: credlyOrganizations
    administratorPrincipalId: administratorPrincipalId
    administratorPrincipalType: administratorPrincipalType
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    principalId: identity.properties.principalId
    storageAccountName: storage.outputs.accountName
    vaultName: vault.outputs.vaultName
    insightsName: monitoring.outputs.insightsName
  }
}

module app 'modules/functionapp.bicep' = {
  name: 'functionapp'
  // The site starts using storage, Key Vault and App Insights as soon as it exists: create it
  // only once its identity holds the roles, so a fresh deploy does not start with 403s.
  dependsOn: [
    rbac
  ]
  params: {
    location: location
    tags: tags
    planName: names.plan
    siteName: names.site
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.accountName
    deploymentContainerName: deploymentContainerName
    vaultUri: vault.outputs.vaultUri
    insightsConnectionString: monitoring.outputs.connectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    credlyOrganizations: credlyOrganizations
    credlyApiUrl: credlyApiUrl
    credlyWebUrl: credlyWebUrl
    graphApiUrl: graphApiUrl
    graphConnectionId: graphConnectionId
    graphAuth: graphAuth
    graphClientId: graphClientId
    incrementalCrawlSchedule: incrementalCrawlSchedule
    fullCrawlSchedule: fullCrawlSchedule
    includeExpired: includeExpired
    indexSkills: indexSkills
    crawlLeaseMinutes: crawlLeaseMinutes
    graphWriteConcurrency: graphWriteConcurrency
    graphWriteRate: graphWriteRate
    credlyMaxConcurrency: credlyMaxConcurrency
    credlyRate: credlyRate
    profileBatchSize: profileBatchSize
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: tags
    insightsId: monitoring.outputs.insightsId
    displayName: 'Credly connector (${environmentName})'
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    tags: tags
    environmentName: environmentName
    insightsId: monitoring.outputs.insightsId
    alertEmail: alertEmail
    organizationCount: length(credlyOrganizations)
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_FUNCTION_APP_NAME string = app.outputs.siteName
output AZURE_FUNCTION_APP_URL string = app.outputs.defaultUrl
output AZURE_KEY_VAULT_NAME string = vault.outputs.vaultName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.accountName
output AZURE_MANAGED_IDENTITY_NAME string = identity.name
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.properties.principalId
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.properties.clientId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.insightsName
output CREDLY_SECRET_NAMES array = vault.outputs.credlySecretNames
