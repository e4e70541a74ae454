//! What patching needs to know of a type: the shape of each field's value.

/// How the elements of a list combine when two versions are merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListType {
    /// Replaced as a whole (the default for lists without a merge strategy).
    Atomic,
    /// A set of scalars (`finalizers`): merged by value.
    Set,
    /// A list of objects identified by these key fields (`containers` by `name`).
    Map(Vec<String>),
}

/// The shape of a value at some field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A string, number or boolean (or a type serialised as one: Quantity, Time).
    Scalar,
    /// An object of a named type; look its fields up with [`Schema::field`].
    Struct(String),
    /// A map with string keys and values of one shape (`labels`, `data`).
    Map(Box<Shape>),
    /// A list of elements of one shape, combined as [`ListType`] says.
    List(Box<Shape>, ListType),
    /// Free-form JSON (`RawExtension`, unknown types): objects merge key by key, lists are atomic.
    Untyped,
}

/// A field of a struct type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    pub shape: Shape,
    /// The field's value follows the `$retainKeys` directive (`strategy`, `volumes`).
    pub retain_keys: bool,
}

/// Type information for patching. Unknown types and fields are [`Shape::Untyped`].
pub trait Schema: Send + Sync {
    /// The field `field` of the struct type `type_name`, if the type has it.
    fn field(&self, type_name: &str, field: &str) -> Option<Field>;

    /// Whether server-side apply treats the struct type `type_name` as one value, owned
    /// and replaced as a whole (`+structType=atomic`, e.g. `LabelSelector`).
    fn is_atomic_struct(&self, _type_name: &str) -> bool {
        false
    }
}

impl Shape {
    /// The shape of the member `key` of a value of this shape: a declared field of a
    /// struct, a map's value shape, or [`Shape::Untyped`].
    pub fn child(&self, schema: &dyn Schema, key: &str) -> Field {
        match self {
            Shape::Struct(type_name) => schema.field(type_name, key).unwrap_or(Field::UNTYPED),
            Shape::Map(value) => Field { shape: (**value).clone(), retain_keys: false },
            _ => Field::UNTYPED,
        }
    }
}

impl Field {
    /// A field of unknown type.
    pub const UNTYPED: Field = Field { shape: Shape::Untyped, retain_keys: false };
}

/// A schema that knows no types: everything is [`Shape::Untyped`].
pub struct Untyped;

impl Schema for Untyped {
    fn field(&self, _type_name: &str, _field: &str) -> Option<Field> {
        None
    }
}
