// The operations workbook (infra/workbook/connector.workbook.json), shared in the resource group
// and bound to the connector's Application Insights.

param location string
param tags object
param insightsId string
param displayName string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  // A workbook's name must be a GUID; this one is stable per Application Insights resource.
  name: guid(insightsId, 'credly-connector-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: insightsId
    serializedData: replace(loadTextContent('../workbook/connector.workbook.json'), '{app-insights-id}', insightsId)
  }
}

output workbookId string = workbook.id
