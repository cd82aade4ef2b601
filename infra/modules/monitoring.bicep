// Log Analytics workspace and workspace-based Application Insights with local (key) auth off:
// telemetry is accepted only from identities holding Monitoring Metrics Publisher.

param location string
param tags object
param workspaceName string
param insightsName string
param retentionDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionDays
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: insightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

output insightsId string = insights.id
output insightsName string = insights.name
output connectionString string = insights.properties.ConnectionString
output workspaceId string = workspace.id
