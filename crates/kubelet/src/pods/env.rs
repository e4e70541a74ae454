//! A container's environment, in upstream's order: the service links first, then
//! `envFrom` (ConfigMaps and Secrets, with their prefix), then `env`, whose values may use
//! `$(VAR)` references to earlier variables (`$$` escapes). Keys that are not valid
//! variable names are skipped, as upstream's kubelet skips them (with an event there).

use super::fields::Downward;
use super::objects::{Missing, Objects};
use k8s_openapi::api::core::v1::{Container, Pod};
use std::collections::HashMap;

/// What a container's environment is built from, besides its spec.
pub struct EnvInputs<'a> {
    pub pod: &'a Pod,
    pub service_env: &'a [(String, String)],
    pub downward: Downward<'a>,
}

/// The environment of `container`, or why it cannot be built (upstream's
/// `CreateContainerConfigError` message).
pub async fn container_env(
    container: &Container,
    inputs: &EnvInputs<'_>,
    objects: &mut Objects,
) -> Result<Vec<(String, String)>, Missing> {
    let mut env: Vec<(String, String)> = inputs.service_env.to_vec();
    let set = |env: &mut Vec<(String, String)>, key: String, value: String| {
        if let Some(existing) = env.iter_mut().find(|(k, _)| *k == key) {
            existing.1 = value;
        } else {
            env.push((key, value));
        }
    };
    for source in container.env_from.iter().flatten() {
        let prefix = source.prefix.clone().unwrap_or_default();
        let data = if let Some(reference) = &source.config_map_ref {
            objects.required_config_map(&reference.name, reference.optional.unwrap_or(false)).await?
        } else if let Some(reference) = &source.secret_ref {
            objects.required_secret(&reference.name, reference.optional.unwrap_or(false)).await?
        } else {
            None
        };
        for (key, value) in data.into_iter().flatten() {
            let name = format!("{prefix}{key}");
            if is_env_name(&name) {
                set(&mut env, name, String::from_utf8_lossy(&value).into_owned());
            }
        }
    }
    for var in container.env.iter().flatten() {
        let value = if let Some(value) = &var.value {
            let known: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            expand(value, &known)
        } else if let Some(from) = &var.value_from {
            if let Some(selector) = &from.field_ref {
                inputs.downward.field(inputs.pod, selector).map_err(Missing)?
            } else if let Some(selector) = &from.resource_field_ref {
                inputs.downward.resource(inputs.pod, &container.name, selector).map_err(Missing)?
            } else if let Some(key) = &from.config_map_key_ref {
                let optional = key.optional.unwrap_or(false);
                match objects.required_config_map(&key.name, optional).await?.and_then(|d| d.get(&key.key).cloned()) {
                    Some(value) => String::from_utf8_lossy(&value).into_owned(),
                    None if optional => continue,
                    None => {
                        return Err(Missing(format!(
                            "couldn't find key {} in ConfigMap {}/{}",
                            key.key,
                            namespace(inputs.pod),
                            key.name
                        )));
                    }
                }
            } else if let Some(key) = &from.secret_key_ref {
                let optional = key.optional.unwrap_or(false);
                match objects.required_secret(&key.name, optional).await?.and_then(|d| d.get(&key.key).cloned()) {
                    Some(value) => String::from_utf8_lossy(&value).into_owned(),
                    None if optional => continue,
                    None => {
                        return Err(Missing(format!(
                            "couldn't find key {} in Secret {}/{}",
                            key.key,
                            namespace(inputs.pod),
                            key.name
                        )));
                    }
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        set(&mut env, var.name.clone(), value);
    }
    Ok(env)
}

fn namespace(pod: &Pod) -> &str {
    pod.metadata.namespace.as_deref().unwrap_or("default")
}

/// Whether `name` is a valid environment variable name (upstream's C identifier-like rule,
/// which also allows `.` and `-`).
fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Expand `$(VAR)` from `known`; `$$` is a literal `$`; unknown references stay as written.
pub fn expand(input: &str, known: &HashMap<&str, &str>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(open) = after.strip_prefix('(')
            && let Some(close) = open.find(')')
        {
            let name = &open[..close];
            match known.get(name) {
                Some(value) => out.push_str(value),
                None => out.push_str(&rest[at..at + 3 + close]),
            }
            rest = &open[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_expand_and_escapes_stay_literal() {
        let known: HashMap<&str, &str> = [("A", "1"), ("B", "two")].into();
        assert_eq!(expand("$(A)-$(B)", &known), "1-two");
        assert_eq!(expand("$$(A) $(C) $", &known), "$(A) $(C) $");
        assert_eq!(expand("x$(A", &known), "x$(A");
    }

    #[test]
    fn env_names_follow_upstreams_rule() {
        assert!(is_env_name("MY_VAR.x-1"));
        assert!(!is_env_name("1ABC"));
        assert!(!is_env_name("A B"));
    }
}
