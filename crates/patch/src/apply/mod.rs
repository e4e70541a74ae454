//! Server-side apply and `managedFields` bookkeeping, after structured-merge-diff.
//!
//! Every write records which manager owns which fields. [`FieldManager::apply`] merges
//! an applied configuration into the live object: its fields become the manager's
//! (operation `Apply`), fields it applied before and no longer applies are removed
//! unless another manager owns them, and changing a field another manager owns is a
//! [`Conflict`] unless forced, which moves the ownership. [`FieldManager::track_update`]
//! records an ordinary create, update or patch: the fields it changed become the
//! manager's (operation `Update`) and leave everyone else's.
//!
//! Fields of the object's identity and bookkeeping (`apiVersion`, `kind`, `metadata.name`,
//! `uid`, `resourceVersion`, ...) are never owned; callers add the fields a
//! subresource resets (`status` for main-resource writes) with [`FieldManager::ignoring`].

mod conflict;
mod managed;
mod typed;

use serde_json::Value;

pub use conflict::{ApplyError, Conflict};

use crate::fields::{FieldSet, PathElement};
use crate::{Schema, Shape};
use managed::{APPLY, Entry, UPDATE};
use typed::Walker;

/// Fields no manager owns (upstream's stripped metadata).
const UNOWNED: &[&[&str]] = &[
    &["apiVersion"],
    &["kind"],
    &["metadata", "name"],
    &["metadata", "namespace"],
    &["metadata", "uid"],
    &["metadata", "resourceVersion"],
    &["metadata", "generation"],
    &["metadata", "creationTimestamp"],
    &["metadata", "selfLink"],
    &["metadata", "managedFields"],
];

/// One write's manager and context.
pub struct FieldManager<'a> {
    schema: &'a dyn Schema,
    root: &'a Shape,
    manager: &'a str,
    api_version: &'a str,
    time: &'a str,
    subresource: &'a str,
    ignored: Vec<Vec<String>>,
}

impl<'a> FieldManager<'a> {
    /// A write by `manager` (the `fieldManager` parameter, or upstream's default from the
    /// user agent) of an object of shape `root` served as `api_version` (`apps/v1`), at
    /// `time` (RFC 3339, second precision: `2025-01-01T00:00:00Z`).
    pub fn new(schema: &'a dyn Schema, root: &'a Shape, manager: &'a str, api_version: &'a str, time: &'a str) -> Self {
        let ignored = UNOWNED.iter().map(|path| path.iter().map(|s| (*s).to_owned()).collect()).collect();
        FieldManager { schema, root, manager, api_version, time, subresource: "", ignored }
    }

    /// The write goes to this subresource (`status`, `scale`); recorded in its entries.
    pub fn subresource(mut self, subresource: &'a str) -> Self {
        self.subresource = subresource;
        self
    }

    /// Fields this write neither owns nor changes, as paths of field names: `["status"]`
    /// for main-resource writes of kinds with a status subresource, `["spec"]` and
    /// `["metadata"]` for status writes.
    pub fn ignoring(mut self, paths: &[&[&str]]) -> Self {
        self.ignored.extend(paths.iter().map(|path| path.iter().map(|s| (*s).to_owned()).collect()));
        self
    }

    fn walker(&self) -> Walker<'a> {
        Walker { schema: self.schema }
    }

    fn ignored_set(&self) -> FieldSet {
        let mut set = FieldSet::new();
        for path in &self.ignored {
            set.insert(&field_path(path));
        }
        set
    }

    /// Server-side apply of the configuration `applied` (a JSON object) to `live` (`None`
    /// when the object does not exist yet). Returns the new object with
    /// `metadata.managedFields` updated.
    pub fn apply(&self, live: Option<&Value>, applied: &Value, force: bool) -> Result<Value, ApplyError> {
        if !applied.is_object() {
            return Err(ApplyError::BadRequest("apply configuration must be a JSON object".to_owned()));
        }
        if applied.pointer("/metadata/managedFields").is_some_and(|v| !v.is_null()) {
            return Err(ApplyError::BadRequest("metadata.managedFields must be nil".to_owned()));
        }
        let walker = self.walker();
        let ignored = self.ignored_set();
        let mut config = applied.clone();
        for path in ignored.members().iter().filter(|path| !is_unowned_meta(path)) {
            walker.remove(&mut config, self.root, path);
        }

        let mut entries = managed::read(live.and_then(|l| l.pointer("/metadata/managedFields")));
        let config_set = walker.field_set(&config, self.root).recursive_difference(&ignored);
        let mut merged = walker.merge(live, &config, self.root);

        let mine = entries.iter().position(|e| e.is(self.manager, APPLY, self.subresource, self.api_version));
        let last_applied = mine.map(|at| entries.remove(at).fields).unwrap_or_default();
        let me = Entry {
            manager: self.manager.to_owned(),
            operation: APPLY.to_owned(),
            api_version: self.api_version.to_owned(),
            time: Some(self.time.to_owned()),
            subresource: self.subresource.to_owned(),
            fields: config_set,
        };
        entries.push(me);
        self.prune(&mut merged, &last_applied, &entries, &ignored);

        let changed = walker.compare(live, Some(&merged), self.root).changed.recursive_difference(&ignored);
        let mut conflicts = Vec::new();
        let others = entries.len() - 1;
        for entry in &mut entries[..others] {
            let contested = entry.fields.intersection(&changed);
            if contested.is_empty() {
                continue;
            }
            conflicts.extend(contested.members().iter().map(|path| Conflict::new(entry, path)));
            entry.fields = entry.fields.difference(&contested);
        }
        if !conflicts.is_empty() && !force {
            return Err(ApplyError::Conflicts(conflict::sorted(conflicts)));
        }
        managed::write(&mut merged, entries);
        Ok(merged)
    }

    /// Remove what this manager applied last time and applies no more, unless another
    /// manager (or this apply) owns it.
    fn prune(&self, merged: &mut Value, last_applied: &FieldSet, entries: &[Entry], ignored: &FieldSet) {
        if last_applied.is_empty() {
            return;
        }
        let owned = entries.iter().fold(FieldSet::new(), |all, entry| all.union(&entry.fields));
        let mut removable = last_applied.with_fields_as_members().difference(&owned.with_fields_as_members());
        // Parents of unowned fields (`metadata`) are never removed as a whole.
        for path in ignored.members() {
            for end in 1..path.len() {
                removable.unmark(&path[..end]);
            }
        }
        let walker = self.walker();
        for path in removable.members() {
            walker.remove(merged, self.root, &path);
        }
    }

    /// Record an ordinary write (create when `old` is `None`, update, patch) of `new`:
    /// the fields it changed become this manager's (operation `Update`) and leave other
    /// managers. `managedFields` in `new` that differ from `old`'s replace them (how
    /// clients reset ownership); otherwise `old`'s are carried over.
    pub fn track_update(&self, old: Option<&Value>, new: &mut Value) {
        let pointer = "/metadata/managedFields";
        let old_managed = old.and_then(|o| o.pointer(pointer));
        let mut entries = match new.pointer(pointer) {
            Some(given) if !given.is_null() && Some(given) != old_managed => managed::read(Some(given)),
            _ => managed::read(old_managed),
        };
        let ignored = self.ignored_set();
        let changes = self.walker().compare(old, Some(new), self.root);
        let changed = changes.changed.recursive_difference(&ignored);
        let removed = changes.removed.recursive_difference(&ignored);
        if changed.is_empty() && removed.is_empty() {
            managed::write(new, entries);
            return;
        }
        let mine = entries.iter().position(|e| e.is(self.manager, UPDATE, self.subresource, self.api_version));
        let previous = mine.map(|at| entries.remove(at).fields).unwrap_or_default();
        for entry in &mut entries {
            entry.fields = entry.fields.difference(&changed);
        }
        entries.push(Entry {
            manager: self.manager.to_owned(),
            operation: UPDATE.to_owned(),
            api_version: self.api_version.to_owned(),
            time: Some(self.time.to_owned()),
            subresource: self.subresource.to_owned(),
            fields: previous.union(&changed).recursive_difference(&removed),
        });
        managed::write(new, entries);
    }
}

fn field_path(names: &[String]) -> Vec<PathElement> {
    names.iter().map(|name| PathElement::Field(name.clone())).collect()
}

fn is_unowned_meta(path: &[PathElement]) -> bool {
    UNOWNED.iter().any(|unowned| field_path(&unowned.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()) == path)
}

#[cfg(test)]
mod tests;
