// Alert rules over the connector's telemetry (names: infra/README.md, "Telemetry contract"):
// a crawl failed; no successful incremental crawl of every organisation in 26 hours; a message
// was moved to a -poison queue. An email action group is created when an address is given.

param location string
param tags object
param environmentName string
param insightsId string
param alertEmail string

@description('How many Credly organisations are configured: each needs its own successful crawl.')
param organizationCount int

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-${environmentName}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take('credly${environmentName}', 12)
    enabled: true
    emailReceivers: [
      {
        name: 'administrator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = empty(alertEmail) ? [] : [actionGroup.id]

// Every crawl records crawl.duration once, when it reaches its final status.
var crawlFailedQuery = '''
customMetrics
| where name == "crawl.duration"
| extend status = tostring(customDimensions.status), organization_id = tostring(customDimensions.organization_id)
| where status == "failed"
| summarize failed = count() by organization_id
'''

// The rule's window is two days; the query narrows it to the last 26 hours. Dry runs do not
// move the watermark, so they do not count as a success.
var noIncrementalQuery = '''
customMetrics
| where timestamp > ago(26h)
| where name == "crawl.duration"
| where tostring(customDimensions.crawl_kind) == "incremental"
| where tostring(customDimensions.status) == "succeeded"
| where tostring(customDimensions.dry_run) != "true"
| summarize organizations = dcount(tostring(customDimensions.organization_id))
| where organizations < {expected}
'''

// The Functions host logs this line (Warning) when a message reaches maxDequeueCount and is
// moved to <queue>-poison; it covers every queue, including those without a poison handler.
var poisonQuery = '''
traces
| where message startswith "Message has reached MaxDequeueCount"
| extend queue = extract(@"Moving message to queue '([^']+)'", 1, message)
| summarize moved = count() by queue
'''

resource crawlFailed 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: 'alert-${environmentName}-crawl-failed'
  location: location
  tags: tags
  properties: {
    displayName: 'Credly connector: a crawl failed (${environmentName})'
    description: 'A crawl ended with status failed. Open the workbook\'s "Failed crawls" table, then GET /api/ops/crawls/{crawl_id}.'
    severity: 1
    enabled: true
    scopes: [
      insightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: crawlFailedQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'failed'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'organization_id'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actions
    }
  }
}

resource noIncremental 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: 'alert-${environmentName}-no-incremental'
  location: location
  tags: tags
  properties: {
    displayName: 'Credly connector: no successful incremental crawl in 26 hours (${environmentName})'
    description: 'Fewer organisations than configured had a successful (non dry-run) incremental crawl in the last 26 hours: the timer did not fire, a crawl is stuck or failed, or the app is down.'
    severity: 2
    enabled: true
    scopes: [
      insightsId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P2D'
    criteria: {
      allOf: [
        {
          query: replace(noIncrementalQuery, '{expected}', string(organizationCount))
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actions
    }
  }
}

resource poisonMessages 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: 'alert-${environmentName}-poison'
  location: location
  tags: tags
  properties: {
    displayName: 'Credly connector: messages in a -poison queue (${environmentName})'
    description: 'A queue message failed maxDequeueCount times and was moved to <queue>-poison. See the workbook\'s "Messages moved to a -poison queue" chart and the errors logged for that stage.'
    severity: 2
    enabled: true
    scopes: [
      insightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: poisonQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'moved'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'queue'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actions
    }
  }
}
