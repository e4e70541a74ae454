//! The query and path parameters of the API's operations, with upstream's descriptions.

/// Where a parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum In {
    Path,
    Query,
}

impl In {
    pub fn as_str(self) -> &'static str {
        match self {
            In::Path => "path",
            In::Query => "query",
        }
    }
}

/// One parameter of an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: &'static str,
    pub location: In,
    /// `string`, `boolean` or `integer`.
    pub kind: &'static str,
    pub description: String,
}

impl Param {
    fn query(name: &'static str, kind: &'static str, description: &str) -> Param {
        Param { name, location: In::Query, kind, description: description.to_owned() }
    }

    fn path(name: &'static str, description: String) -> Param {
        Param { name, location: In::Path, kind: "string", description }
    }
}

pub fn name(kind: &str) -> Param {
    Param::path("name", format!("name of the {kind}"))
}

pub fn namespace() -> Param {
    Param::path("namespace", "object name and auth scope, such as for teams and projects".into())
}

pub fn proxy_path() -> Param {
    Param::path("path", "path to the resource".into())
}

pub fn pretty() -> Param {
    Param::query(
        "pretty",
        "string",
        "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
    )
}

const DRY_RUN: &str = "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed";
const FIELD_MANAGER: &str = "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.";
const FIELD_MANAGER_PATCH: &str = " This field is required for apply requests (application/apply-patch) but optional for non-apply patch types (JsonPatch, MergePatch, StrategicMergePatch).";
const FIELD_VALIDATION: &str = "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. This is the default behavior prior to v1.23. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.";
const FORCE: &str = "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.";

/// Parameters of create and replace.
pub fn write() -> Vec<Param> {
    vec![
        Param::query("dryRun", "string", DRY_RUN),
        Param::query("fieldManager", "string", FIELD_MANAGER),
        Param::query("fieldValidation", "string", FIELD_VALIDATION),
    ]
}

/// Parameters of patch: those of a write, an apply-aware fieldManager, and `force`.
pub fn patch() -> Vec<Param> {
    vec![
        Param::query("dryRun", "string", DRY_RUN),
        Param::query("fieldManager", "string", &format!("{FIELD_MANAGER}{FIELD_MANAGER_PATCH}")),
        Param::query("fieldValidation", "string", FIELD_VALIDATION),
        Param::query("force", "boolean", FORCE),
    ]
}

/// Parameters of delete (the query form of DeleteOptions).
pub fn delete() -> Vec<Param> {
    vec![
        Param::query("dryRun", "string", DRY_RUN),
        Param::query(
            "gracePeriodSeconds",
            "integer",
            "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used. Defaults to a per object value if not specified. zero means delete immediately.",
        ),
        Param::query(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "boolean",
            "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error. A resource is considered corrupt if it can not be retrieved from the underlying storage successfully because of a) its data can not be transformed e.g. decryption failure, or b) it fails to decode into an object. NOTE: unsafe deletion ignores finalizer constraints, skips precondition checks, and removes the object from the storage. WARNING: This may potentially break the cluster if the workload associated with the resource being unsafe-deleted relies on normal deletion flow. Use only if you REALLY know what you are doing. The default value is false, and the user must opt in to enable it",
        ),
        Param::query(
            "orphanDependents",
            "boolean",
            "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.",
        ),
        Param::query(
            "propagationPolicy",
            "string",
            "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. The default policy is decided by the existing finalizer set in the metadata.finalizers and the resource-specific default policy. Acceptable values are: 'Orphan' - orphan the dependents; 'Background' - allow the garbage collector to delete the dependents in the background; 'Foreground' - a cascading policy that deletes all dependents in the foreground.",
        ),
    ]
}

/// Parameters of list and watch (ListOptions), `watch` included when `with_watch`.
pub fn list(with_watch: bool) -> Vec<Param> {
    let mut params = vec![
        Param::query(
            "allowWatchBookmarks",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval, nor may they assume the server will send any BOOKMARK event during a session. If this is not a watch, this field is ignored.",
        ),
        Param::query(
            "continue",
            "string",
            "The continue option should be set when retrieving more results from the server. Since this value is server defined, clients may only use the continue value from a previous query result with identical query parameters (except for the value of continue) and the server may reject a continue value it does not recognize. If the specified continue value is no longer valid whether due to expiration (generally five to fifteen minutes) or a configuration change on the server, the server will respond with a 410 ResourceExpired error together with a continue token.",
        ),
        Param::query(
            "fieldSelector",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        Param::query(
            "labelSelector",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        Param::query(
            "limit",
            "integer",
            "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results. This field is not supported if watch is true.",
        ),
        Param::query(
            "resourceVersion",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
        ),
        Param::query(
            "resourceVersionMatch",
            "string",
            "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions for details.\n\nDefaults to unset",
        ),
        Param::query(
            "sendInitialEvents",
            "boolean",
            "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection. Once all such events have been sent, a synthetic \"Bookmark\" event  will be sent.",
        ),
        Param::query(
            "timeoutSeconds",
            "integer",
            "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.",
        ),
    ];
    if with_watch {
        params.push(Param::query(
            "watch",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.",
        ));
    }
    params
}

/// Parameters of deletecollection: list selection plus delete options.
pub fn delete_collection() -> Vec<Param> {
    let mut params: Vec<Param> = list(false).into_iter().filter(|p| p.name != "allowWatchBookmarks").collect();
    params.extend(delete());
    params
}

/// Parameters of `pods/log` (PodLogOptions).
pub fn log() -> Vec<Param> {
    vec![
        Param::query(
            "container",
            "string",
            "The container for which to stream logs. Defaults to only container if there is one container in the pod.",
        ),
        Param::query("follow", "boolean", "Follow the log stream of the pod. Defaults to false."),
        Param::query(
            "insecureSkipTLSVerifyBackend",
            "boolean",
            "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity of the serving certificate of the backend it is connecting to.",
        ),
        Param::query(
            "limitBytes",
            "integer",
            "If set, the number of bytes to read from the server before terminating the log output. This may not display a complete final line of logging, and may return slightly more or slightly less than the specified limit.",
        ),
        Param::query("previous", "boolean", "Return previous terminated container logs. Defaults to false."),
        Param::query(
            "sinceSeconds",
            "integer",
            "A relative time in seconds before the current time from which to show logs. If this value precedes the time a pod was started, only logs since the pod start will be returned. If this value is in the future, no logs will be returned. Only one of sinceSeconds or sinceTime may be specified.",
        ),
        Param::query(
            "stream",
            "string",
            "Specify which container log stream to return to the client. Acceptable values are \"All\", \"Stdout\" and \"Stderr\". If not specified, \"All\" is used, and both stdout and stderr are returned interleaved. Note that when \"TailLines\" is specified, \"Stream\" can only be set to nil or \"All\".",
        ),
        Param::query(
            "tailLines",
            "integer",
            "If set, the number of lines from the end of the logs to show. If not specified, logs are shown from the creation of the container or sinceSeconds or sinceTime. Note that when \"TailLines\" is specified, \"Stream\" can only be set to nil or \"All\".",
        ),
        Param::query(
            "timestamps",
            "boolean",
            "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false.",
        ),
    ]
}

/// Parameters of `pods/exec` (PodExecOptions) or, without `command`, `pods/attach`.
pub fn exec(with_command: bool) -> Vec<Param> {
    let mut params = Vec::new();
    if with_command {
        params.push(Param::query(
            "command",
            "string",
            "Command is the remote command to execute. argv array. Not executed within a shell.",
        ));
    }
    params.extend([
        Param::query(
            "container",
            "string",
            "Container in which to execute the command. Defaults to only container if there is only one container in the pod.",
        ),
        Param::query("stderr", "boolean", "Redirect the standard error stream of the pod for this call."),
        Param::query("stdin", "boolean", "Redirect the standard input stream of the pod for this call. Defaults to false."),
        Param::query("stdout", "boolean", "Redirect the standard output stream of the pod for this call."),
        Param::query(
            "tty",
            "boolean",
            "TTY if true indicates that a tty will be allocated for the call. Defaults to false.",
        ),
    ]);
    params
}

/// Parameters of `pods/portforward`.
pub fn port_forward() -> Vec<Param> {
    vec![Param::query("ports", "integer", "List of ports to forward Required when using WebSockets")]
}

/// The `path` query parameter of `<resource>/proxy`.
pub fn proxy_query(kind: &str) -> Vec<Param> {
    vec![Param::query(
        "path",
        "string",
        &format!("Path is the URL path to use for the current proxy request to {}.", kind.to_lowercase()),
    )]
}
