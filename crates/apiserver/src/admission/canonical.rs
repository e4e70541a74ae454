//! Objects a plugin changed are put back into the typed form every stored object has
//! (field order, sorted maps, empty collections omitted), as if the client had sent them.

use resources::ResourceDef;
use serde_json::Value;

/// Re-encode `obj` through its kind's typed form; left as is if it does not decode.
pub fn canonicalize(def: &ResourceDef, obj: &mut Value) {
    let (api_version, kind) = (obj.get("apiVersion").cloned(), obj.get("kind").cloned());
    if let Ok(decoded) = def.strategy.decode(obj.clone()) {
        *obj = decoded.object;
        if let (Some(v), Some(k)) = (api_version, kind) {
            obj["apiVersion"] = v;
            obj["kind"] = k;
        }
    }
}
