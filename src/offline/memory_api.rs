//! An in-memory stand-in for the Kubernetes API, holding the objects `oc-operator
//! plan` read from manifests, so that the controllers' own reconciles run without a
//! cluster. It answers what the reconcile of an object that only observes asks of
//! Kubernetes: read an object or a Secret, write a status or a finalizer, record an
//! event. Anything else is answered 404 (what does not exist here) or 405, so no
//! request can reach a real cluster from here.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

use crate::locked::Locked;

/// The objects, by their API path (`/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>`).
#[derive(Clone, Default)]
pub struct MemoryApi {
    objects: Arc<Locked<BTreeMap<String, Value>>>,
}

/// The API path of an object: its group and version from `apiVersion`, its resource
/// from `plural`, its namespace if it has one.
pub fn path_of(api_version: &str, plural: &str, namespace: Option<&str>, name: &str) -> String {
    let prefix = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    match namespace {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}/{name}"),
        None => format!("{prefix}/{plural}/{name}"),
    }
}

impl MemoryApi {
    /// Holds `object` at `path`.
    pub fn insert(&self, path: String, object: Value) {
        self.objects.lock().insert(path, object);
    }

    /// The object at `path`, as the last write left it.
    pub fn get(&self, path: &str) -> Option<Value> {
        self.objects.lock().get(path).cloned()
    }

    /// A Kubernetes client whose every request this API answers.
    pub fn client(&self) -> kube::Client {
        let api = self.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.answer(request).await) }
        });
        kube::Client::new(service, "default")
    }

    async fn answer(&self, request: Request<Body>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let body = match request.into_body().collect_bytes().await {
            Ok(bytes) => bytes,
            Err(e) => return status(StatusCode::BAD_REQUEST, &format!("unreadable body: {e}")),
        };
        let body: Value = if body.is_empty() {
            Value::Null
        } else {
            match serde_json::from_slice(&body) {
                Ok(value) => value,
                Err(e) => return status(StatusCode::BAD_REQUEST, &format!("not JSON: {e}")),
            }
        };
        if path.ends_with("/events") || path.contains("/events/") {
            // Events are accepted and dropped: the plan is printed, not recorded.
            return respond(StatusCode::CREATED, &body);
        }
        let (object_path, status_only) = match path.strip_suffix("/status") {
            Some(object) => (object.to_owned(), true),
            None => (path.clone(), false),
        };
        let mut objects = self.objects.lock();
        let Some(object) = objects.get_mut(&object_path) else {
            return status(
                StatusCode::NOT_FOUND,
                &format!("{object_path} is not among the manifests"),
            );
        };
        match method {
            Method::GET => respond(StatusCode::OK, object),
            Method::PATCH if status_only => {
                object["status"] = body.get("status").cloned().unwrap_or(Value::Null);
                bump(object);
                respond(StatusCode::OK, object)
            }
            Method::PATCH => {
                merge(object, &body);
                bump(object);
                respond(StatusCode::OK, object)
            }
            _ => status(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!("{method} is not done offline"),
            ),
        }
    }
}

/// A new resourceVersion after a write.
fn bump(object: &mut Value) {
    let version = object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    object["metadata"]["resourceVersion"] = json!((version + 1).to_string());
}

/// A JSON merge patch (RFC 7386): objects merge, `null` removes, anything else
/// replaces. A `resourceVersion` in the patch is a precondition, not a value.
fn merge(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (key, value) in fields {
        if key == "resourceVersion" {
            continue;
        }
        if value.is_null() {
            if let Some(map) = target.as_object_mut() {
                map.remove(key);
            }
        } else {
            merge(&mut target[key], value);
        }
    }
}

fn respond(code: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string().into_bytes()));
    *response.status_mut() = code;
    response
}

fn status(code: StatusCode, message: &str) -> Response<Body> {
    let reason = match code {
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
        _ => "BadRequest",
    };
    respond(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Secret;
    use kube::Api;

    #[tokio::test]
    async fn objects_are_read_and_their_status_written_but_nothing_else() {
        let api = MemoryApi::default();
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "n", "resourceVersion": "1"},
            "stringData": {"k": "v"}});
        api.insert(path_of("v1", "secrets", Some("n"), "s"), secret);
        let secrets: Api<Secret> = Api::namespaced(api.client(), "n");
        let read = secrets.get("s").await.unwrap();
        assert_eq!(read.string_data.unwrap()["k"], "v");
        assert!(secrets.get_opt("other").await.unwrap().is_none());
        let patch = json!({"metadata": {"labels": {"a": "b"}, "resourceVersion": "1"}});
        let patched = secrets
            .patch(
                "s",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await
            .unwrap();
        assert_eq!(patched.metadata.labels.unwrap()["a"], "b");
        assert_eq!(patched.metadata.resource_version.as_deref(), Some("2"));
        assert!(
            secrets.delete("s", &Default::default()).await.is_err(),
            "a delete is refused"
        );
        assert!(api.get(&path_of("v1", "secrets", Some("n"), "s")).is_some());
    }
}
