// Key Vault in RBAC mode for the Credly secrets (one per organisation) and, with an app
// registration for Graph, its client secret. The vault holds no values after deployment: an
// administrator stores them with az keyvault secret set (infra/README.md), so secrets never
// pass through deployment parameters, azd's environment files or the deployment history.

param location string
param tags object
param vaultName string
param credlyOrganizations array

@description('Object id of the administrator who stores the secrets; empty grants nobody.')
param administratorPrincipalId string

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param administratorPrincipalType string

// The n-th organisation (from 1) keeps its secret under one of these names; functionapp.bicep
// builds the same names for the @Microsoft.KeyVault references.
var credlySecretNames = [
  for (org, i) in credlyOrganizations: org.auth == 'token' ? 'credly-token-${i + 1}' : 'credly-client-secret-${i + 1}'
]
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    // Flex Consumption cannot resolve Key Vault references through a network-restricted vault.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

// Lets the deploying administrator write (not just read) the secrets the app references.
resource administratorAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(administratorPrincipalId)) {
  name: guid(vault.id, administratorPrincipalId, keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: administratorPrincipalId
    principalType: administratorPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsOfficer)
  }
}

output vaultName string = vault.name
output vaultUri string = vault.properties.vaultUri
output credlySecretNames array = credlySecretNames
