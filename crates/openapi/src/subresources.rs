//! The operations of subresources: status and scale (read, replace, patch), the bodies
//! posted to binding, eviction and token, the pod log, and the streaming `connect`
//! operations of exec, attach, portforward and proxy.

use crate::model::*;
use crate::params;
use crate::routes::{Builder, with_unauthorized};
use resources::Subresource;

fn gvk(group: &str, version: &str, kind: &str) -> Gvk {
    Gvk { group: group.into(), version: version.into(), kind: kind.into() }
}

impl Builder<'_> {
    pub fn add_subresource(&self, sub: Subresource, push: &mut impl FnMut(&str, Operation)) {
        let d = self.def;
        let (kind, gv, scope) = (d.kind, &self.gv, self.scope);
        let path = format!("{}/{}", self.item_path(), sub.name());
        match sub {
            Subresource::Status | Subresource::Scale | Subresource::EphemeralContainers => {
                let (suffix, definition, gvk) = match sub {
                    Subresource::Status => ("Status", d.definition, self.gvk()),
                    Subresource::EphemeralContainers => ("EphemeralContainers", d.definition, self.gvk()),
                    _ => ("Scale", "io.k8s.api.autoscaling.v1.Scale", gvk("autoscaling", "v1", "Scale")),
                };
                let what = format!("{} of the specified", sub.name());
                let id = format!("read{gv}{scope}{kind}{suffix}");
                let op = self.op(Method::Get, id, format!("read {what} {kind}"), "get", gvk.clone());
                let replies = vec![ok(200, definition, OBJECT_MEDIA), unauthorized()];
                push(&path, Operation { params: self.item_params(kind, true), replies, ..op });
                push(&path, self.replace(suffix, &what, definition, gvk.clone()));
                push(&path, self.patch(suffix, &what, definition, gvk));
            }
            Subresource::Finalize => {
                push(&path, self.replace("Finalize", "finalize of the specified", d.definition, self.gvk()));
            }
            Subresource::Binding | Subresource::Eviction | Subresource::Token => {
                let (suffix, definition, gvk) = match sub {
                    Subresource::Binding => ("Binding", "io.k8s.api.core.v1.Binding", gvk("", "v1", "Binding")),
                    Subresource::Eviction => {
                        ("Eviction", "io.k8s.api.policy.v1.Eviction", gvk("policy", "v1", "Eviction"))
                    }
                    _ => (
                        "Token",
                        "io.k8s.api.authentication.v1.TokenRequest",
                        gvk("authentication.k8s.io", "v1", "TokenRequest"),
                    ),
                };
                let mut params = self.item_params(&gvk.kind, true);
                params.extend(params::write());
                let id = format!("create{gv}{scope}{kind}{suffix}");
                let op = self.op(Method::Post, id, format!("create {} of a {kind}", sub.name()), "post", gvk);
                let replies = with_unauthorized([200, 201, 202].map(|code| ok(code, definition, OBJECT_MEDIA)));
                push(&path, Operation { params, body: object_body(definition), replies, ..op });
            }
            Subresource::Log => {
                let mut params = self.item_params(kind, true);
                params.extend(params::log());
                let id = format!("read{gv}{scope}{kind}Log");
                let op = self.op(Method::Get, id, format!("read log of the specified {kind}"), "get", self.gvk());
                push(&path, Operation { params, replies: vec![ok_text(LOG_MEDIA), unauthorized()], ..op });
            }
            Subresource::Exec | Subresource::Attach | Subresource::PortForward => {
                let (suffix, options, query) = match sub {
                    Subresource::Exec => ("Exec", "PodExecOptions", params::exec(true)),
                    Subresource::Attach => ("Attach", "PodAttachOptions", params::exec(false)),
                    _ => ("Portforward", "PodPortForwardOptions", params::port_forward()),
                };
                for method in [Method::Get, Method::Post] {
                    let mut params = self.item_params(options, false);
                    params.extend(query.iter().cloned());
                    let op =
                        self.connect(method, &format!("{kind}{suffix}"), sub.name(), gvk(d.group, d.version, options));
                    push(&path, Operation { params, ..op });
                }
            }
            Subresource::Proxy => {
                let options = format!("{kind}ProxyOptions");
                let methods = [
                    Method::Delete,
                    Method::Get,
                    Method::Head,
                    Method::Options,
                    Method::Patch,
                    Method::Post,
                    Method::Put,
                ];
                for method in methods {
                    let mut params = self.item_params(&options, false);
                    params.extend(params::proxy_query(kind));
                    let op = self.connect(method, &format!("{kind}Proxy"), "proxy", gvk(d.group, d.version, &options));
                    push(&path, Operation { params, ..op });

                    let mut params = self.item_params(&options, false);
                    params.push(params::proxy_path());
                    params.extend(params::proxy_query(kind));
                    let name = format!("{kind}ProxyWithPath");
                    let op = self.connect(method, &name, "proxy", gvk(d.group, d.version, &options));
                    push(&format!("{path}/{{path}}"), Operation { params, ..op });
                }
            }
        }
    }

    /// A streaming operation (`connectCoreV1GetNamespacedPodExec`), without parameters.
    fn connect(&self, method: Method, name: &str, sub: &str, gvk: Gvk) -> Operation {
        let id = format!("connect{}{}{}{name}", self.gv, method.title(), self.scope);
        let description = format!("connect {} requests to {sub} of {}", method.key().to_uppercase(), self.def.kind);
        let op = self.op(method, id, description, "connect", gvk);
        Operation { replies: vec![ok_text(&["*/*"]), unauthorized()], ..op }
    }
}
