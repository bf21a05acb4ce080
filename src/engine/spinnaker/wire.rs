//! Serde shapes of the Gate JSON DXCP sends and reads (SPINNAKER-GATE.md §1,
//! §2, §4). Only the fields DXCP uses are named.
//!
//! Reading is lenient on purpose: Gate passes through orca's and front50's
//! free-form JSON, so unknown keys are ignored, missing keys take defaults,
//! and a field of an unexpected type (or `null`) reads as its default instead
//! of failing the whole answer.

use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The trigger body of `POST /pipelines/{application}/{pipeline}` (§1.4).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TriggerBody<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The end user; Gate keeps a body `user` over its own principal.
    pub user: &'a str,
    /// Orca returns the running execution for a repeated correlation id, a
    /// second line of defence against double submits.
    pub correlation_id: String,
    pub parameters: TriggerParameters<'a>,
    pub artifacts: Vec<Value>,
    pub notifications: Vec<Value>,
}

/// The pipeline parameters DXCP passes to every deploy and rollback pipeline.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TriggerParameters<'a> {
    pub service: &'a str,
    pub version: &'a str,
    pub environment: &'a str,
    pub artifact_ref: &'a str,
    pub dxcp_deployment_id: String,
    /// Promotions only: absent (not null) for deploys and rollbacks, so
    /// pipelines that do not declare the parameter see no change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_environment: Option<&'a str>,
}

/// Gate's 202 answer to a trigger: `{"ref": "/pipelines/<executionId>"}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TriggerResponse {
    #[serde(rename = "ref", default, deserialize_with = "lenient")]
    pub reference: Option<String>,
}

/// An orca pipeline execution (§2.1), reduced to what DXCP reads.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Execution {
    #[serde(deserialize_with = "lenient")]
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub cancellation_reason: Option<String>,
    #[serde(deserialize_with = "lenient_list")]
    pub stages: Vec<Stage>,
}

/// One stage of an execution; synthetic stages have a `syntheticStageOwner`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Stage {
    #[serde(deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(rename = "type", deserialize_with = "lenient")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub synthetic_stage_owner: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub parent_stage_id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub context: StageContext,
    #[serde(deserialize_with = "lenient_list")]
    pub tasks: Vec<Task>,
}

/// The parts of a stage's context that carry failure text (§2.2).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct StageContext {
    #[serde(deserialize_with = "lenient")]
    pub exception: Option<ExceptionResponse>,
    /// Clouddriver operations run by the stage.
    #[serde(rename = "kato.tasks", deserialize_with = "lenient_list")]
    pub kato_tasks: Vec<KatoTask>,
}

/// Orca's `ExceptionHandler.Response`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ExceptionResponse {
    #[serde(deserialize_with = "lenient")]
    pub details: ExceptionDetails,
}

/// `details.error` is a short category, `details.errors` the human messages.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ExceptionDetails {
    #[serde(deserialize_with = "lenient")]
    pub error: Option<String>,
    #[serde(deserialize_with = "strings")]
    pub errors: Vec<String>,
}

/// One task of a stage; a failed task carries a copy of the stage exception.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct Task {
    #[serde(deserialize_with = "lenient")]
    pub task_exception_details: Option<TaskExceptionDetails>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TaskExceptionDetails {
    #[serde(deserialize_with = "lenient")]
    pub exception: Option<ExceptionResponse>,
}

/// A clouddriver operation (`context["kato.tasks"][]`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct KatoTask {
    #[serde(deserialize_with = "lenient")]
    pub status: KatoStatus,
    #[serde(deserialize_with = "lenient")]
    pub exception: Option<KatoException>,
    #[serde(deserialize_with = "lenient_list")]
    pub history: Vec<KatoHistory>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct KatoStatus {
    #[serde(deserialize_with = "lenient")]
    pub failed: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct KatoException {
    #[serde(deserialize_with = "lenient")]
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct KatoHistory {
    #[serde(deserialize_with = "lenient")]
    pub status: Option<String>,
}

/// An item of `GET /applications` (a merged attributes map).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Application {
    #[serde(deserialize_with = "lenient")]
    pub name: Option<String>,
}

/// An item of `GET /applications/{app}/pipelineConfigs` (front50's JSON).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PipelineConfig {
    #[serde(deserialize_with = "lenient")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub disabled: bool,
}

/// Reads a JSON array leniently: items of the wrong shape are skipped, and a
/// non-array value is an empty list. `None` when the value is not an array,
/// so callers can tell "not a list" from "empty list".
pub(crate) fn lenient_items<T: DeserializeOwned>(value: Value) -> Option<Vec<T>> {
    match value {
        Value::Array(items) => Some(items.into_iter().filter_map(|item| T::deserialize(item).ok()).collect()),
        _ => None,
    }
}

/// Any value: the field's default when it does not fit `T`.
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).unwrap_or_default())
}

/// A list whose items are each read leniently (see [`lenient_items`]).
fn lenient_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(lenient_items(value).unwrap_or_default())
}

/// A list of strings (non-strings skipped) or a single string.
fn strings<'de, D>(deserializer: D) -> Result<Vec<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => vec![text],
        Value::Array(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Value::String(text) => Some(text),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_trigger_body_has_gates_field_names() {
        let body = TriggerBody {
            kind: "manual",
            user: "alice",
            correlation_id: "dxcp-1".to_owned(),
            parameters: TriggerParameters {
                service: "payments",
                version: "1.4.2",
                environment: "prod",
                artifact_ref: "s3://b/k",
                dxcp_deployment_id: "1".to_owned(),
                source_environment: None,
            },
            artifacts: Vec::new(),
            notifications: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({
                "type": "manual", "user": "alice", "correlationId": "dxcp-1",
                "parameters": {"service": "payments", "version": "1.4.2", "environment": "prod",
                               "artifactRef": "s3://b/k", "dxcpDeploymentId": "1"},
                "artifacts": [], "notifications": []
            })
        );
    }

    #[test]
    fn an_execution_with_odd_field_types_still_reads() {
        let execution: Execution = serde_json::from_value(json!({
            "status": "TERMINAL",
            "cancellationReason": 42,
            "unknownKey": {"deep": true},
            "stages": [
                "not a stage",
                {"type": "deploy", "name": null, "context": null, "tasks": null},
                {"type": "wait", "context": {"exception": {"details": {"errors": ["a", 1, null, "b"]}},
                                             "kato.tasks": {"not": "a list"}}}
            ]
        }))
        .unwrap();
        assert_eq!(execution.status.as_deref(), Some("TERMINAL"));
        assert_eq!(execution.cancellation_reason, None);
        assert_eq!(execution.stages.len(), 2);
        assert_eq!(execution.stages[0].name, None);
        let exception = execution.stages[1].context.exception.as_ref().unwrap();
        assert_eq!(exception.details.errors, vec!["a", "b"]);
        assert!(execution.stages[1].context.kato_tasks.is_empty());
    }

    #[test]
    fn an_empty_object_is_an_execution_with_nothing_known() {
        let execution: Execution = serde_json::from_str("{}").unwrap();
        assert_eq!(execution.status, None);
        assert!(execution.stages.is_empty());
    }

    #[test]
    fn lenient_items_skips_bad_items_and_rejects_non_lists() {
        let apps: Vec<Application> = lenient_items(json!([{"name": "a"}, 3, {"name": 4}, {"email": "x"}])).unwrap();
        let names: Vec<_> = apps.into_iter().map(|app| app.name).collect();
        assert_eq!(names, vec![Some("a".to_owned()), None, None]);
        assert!(lenient_items::<Application>(json!({"name": "a"})).is_none());
    }
}
