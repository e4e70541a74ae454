//! Element order of merged lists, and the Go-style value formatting upstream's error
//! messages use.

use serde_json::Value;

use crate::PatchError;

/// Split `merged` into the items `named` names (by identity) and the others.
pub(super) fn partition(
    merged: Vec<Value>,
    named: &[Value],
    id: impl Fn(&Value) -> Option<Value>,
) -> (Vec<Value>, Vec<Value>) {
    let named: Vec<Option<Value>> = named.iter().map(&id).collect();
    merged.into_iter().partition(|item| named.contains(&id(item)))
}

/// Sort the patch items by `patch_order` and the server-only items by `server_order`,
/// then interleave them: a server-only item goes first only when both it and the next
/// patch item are in `server_order` and it comes earlier there.
pub(super) fn normalize(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    id: impl Fn(&Value) -> Option<Value>,
) -> Vec<Value> {
    let index = |list: &[Value], item: &Value| {
        let wanted = id(item);
        list.iter().position(|candidate| id(candidate) == wanted)
    };
    patch_items.sort_by_key(|item| index(patch_order, item).unwrap_or(usize::MAX));
    server_only.sort_by_key(|item| index(server_order, item).unwrap_or(usize::MAX));

    let mut result = Vec::with_capacity(patch_items.len() + server_only.len());
    let mut server = server_only.into_iter().peekable();
    let mut patch = patch_items.into_iter().peekable();
    loop {
        let take_server = match (server.peek(), patch.peek()) {
            (None, None) => break,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (Some(s), Some(p)) => match (index(server_order, s), index(server_order, p)) {
                (Some(si), Some(pi)) => si < pi,
                _ => false,
            },
        };
        let next = if take_server { server.next() } else { patch.next() };
        result.extend(next);
    }
    result
}

/// Upstream's check that the patch list names its items in the `$setElementOrder` order
/// and names none the order list lacks.
pub(super) fn validate_order(
    patch_list: &[Value],
    order: &[Value],
    key: Option<&str>,
    directive: &str,
) -> Result<(), PatchError> {
    if order.is_empty() || patch_list.is_empty() {
        return Ok(());
    }
    let is_delete = |item: &Value| item.get(directive).and_then(Value::as_str) == Some("delete");
    let kept: Vec<&Value> = patch_list.iter().filter(|item| key.is_none() || !is_delete(item)).collect();
    let (mut p, mut o) = (0, 0);
    while p < kept.len() && o < order.len() {
        if kept[p].get(directive).is_some() {
            p += 1;
            continue;
        }
        let same = match key {
            Some(key) => kept[p].get(key).is_some() && kept[p].get(key) == order[o].get(key),
            None => kept[p] == &order[o],
        };
        if same {
            p += 1;
        }
        o += 1;
    }
    if p < kept.len() {
        return Err(PatchError::Internal(format!(
            "The order in patch list:\n{}\n doesn't match $setElementOrder list:\n{}\n",
            go_fmt(&Value::Array(patch_list.to_vec())),
            go_fmt(&Value::Array(order.to_vec()))
        )));
    }
    Ok(())
}

/// A value as Go's `%v` prints a decoded JSON value (`map[name:nginx]`).
pub(super) fn go_fmt(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(items) => format!("[{}]", items.iter().map(go_fmt).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let mut entries: Vec<String> = map.iter().map(|(k, v)| format!("{k}:{}", go_fmt(v))).collect();
            entries.sort();
            format!("map[{}]", entries.join(" "))
        }
    }
}

/// The Go type a decoded JSON value has, as upstream's type errors name it.
pub(super) fn go_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}
