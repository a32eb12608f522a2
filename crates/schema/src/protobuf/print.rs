//! The normalized text of a Protobuf schema, printed from its descriptors so that semantically equal schemas print
//! alike: imports sorted, fields in number order, fully qualified type names, options that are unset (at their
//! defaults) dropped and set ones sorted, comments and formatting gone.

use std::fmt::Write;

use prost_reflect::{
    Cardinality, DynamicMessage, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, Syntax,
    Value,
};

pub(super) fn file(file: &FileDescriptor) -> String {
    let mut out = String::new();
    let syntax = match file.syntax() {
        Syntax::Proto2 => "proto2",
        Syntax::Proto3 => "proto3",
    };
    let _ = writeln!(out, "syntax = \"{syntax}\";");
    if !file.package_name().is_empty() {
        let _ = writeln!(out, "package {};", file.package_name());
    }
    let mut imports: Vec<String> = file.dependencies().map(|d| d.name().to_string()).collect();
    imports.sort();
    for import in imports {
        let _ = writeln!(out, "import \"{import}\";");
    }
    options(&mut out, "", &file.options());
    for message in file.messages() {
        print_message(&mut out, "", &message);
    }
    for e in file.enums() {
        print_enum(&mut out, "", &e);
    }
    for service in file.services() {
        let _ = writeln!(out, "service {} {{", service.name());
        for method in service.methods() {
            let stream = |yes: bool| if yes { "stream " } else { "" };
            let _ = writeln!(
                out,
                "  rpc {} ({}.{}) returns ({}.{});",
                method.name(),
                stream(method.is_client_streaming()),
                method.input().full_name(),
                stream(method.is_server_streaming()),
                method.output().full_name()
            );
        }
        out.push_str("}\n");
    }
    out
}

fn print_message(out: &mut String, indent: &str, message: &MessageDescriptor) {
    let _ = writeln!(out, "{indent}message {} {{", message.name());
    let inner = format!("{indent}  ");
    options(out, &inner, &message.options());
    let mut fields: Vec<FieldDescriptor> = message.fields().collect();
    fields.sort_by_key(FieldDescriptor::number);
    for field in fields.iter().filter(|f| in_real_oneof(f).is_none()) {
        print_field(out, &inner, field);
    }
    for oneof in message.oneofs().filter(|o| !o.is_synthetic()) {
        let _ = writeln!(out, "{inner}oneof {} {{", oneof.name());
        let mut members: Vec<FieldDescriptor> = oneof.fields().collect();
        members.sort_by_key(FieldDescriptor::number);
        for field in &members {
            print_field(out, &format!("{inner}  "), field);
        }
        let _ = writeln!(out, "{inner}}}");
    }
    let mut reserved: Vec<String> = message
        .reserved_ranges()
        .map(|r| match r.end - r.start {
            1 => r.start.to_string(),
            _ => format!("{} to {}", r.start, r.end - 1),
        })
        .collect();
    reserved.extend(message.reserved_names().map(|n| format!("\"{n}\"")));
    if !reserved.is_empty() {
        let _ = writeln!(out, "{inner}reserved {};", reserved.join(", "));
    }
    for child in message.child_messages().filter(|m| !m.is_map_entry()) {
        print_message(out, &inner, &child);
    }
    for e in message.child_enums() {
        print_enum(out, &inner, &e);
    }
    let _ = writeln!(out, "{indent}}}");
}

fn in_real_oneof(field: &FieldDescriptor) -> Option<String> {
    field.containing_oneof().filter(|o| !o.is_synthetic()).map(|o| o.name().to_string())
}

fn print_field(out: &mut String, indent: &str, field: &FieldDescriptor) {
    let label = if field.is_map() {
        ""
    } else if field.field_descriptor_proto().proto3_optional() {
        "optional "
    } else {
        match field.cardinality() {
            Cardinality::Repeated => "repeated ",
            Cardinality::Required => "required ",
            Cardinality::Optional if field.parent_file().syntax() == Syntax::Proto2 => "optional ",
            Cardinality::Optional => "",
        }
    };
    let type_name = if field.is_map() {
        match field.kind() {
            Kind::Message(entry) => format!(
                "map<{}, {}>",
                kind_name(&entry.map_entry_key_field().kind()),
                kind_name(&entry.map_entry_value_field().kind())
            ),
            other => kind_name(&other),
        }
    } else {
        kind_name(&field.kind())
    };
    let mut opts = set_options(&field.options());
    if let Some(default) = &field.field_descriptor_proto().default_value {
        opts.push(format!("default = {default}"));
    }
    let opts = if opts.is_empty() { String::new() } else { format!(" [{}]", opts.join(", ")) };
    let _ = writeln!(out, "{indent}{label}{type_name} {} = {}{opts};", field.name(), field.number());
}

fn print_enum(out: &mut String, indent: &str, e: &EnumDescriptor) {
    let _ = writeln!(out, "{indent}enum {} {{", e.name());
    let inner = format!("{indent}  ");
    options(out, &inner, &e.options());
    for value in e.values() {
        let opts = set_options(&value.options());
        let opts = if opts.is_empty() { String::new() } else { format!(" [{}]", opts.join(", ")) };
        let _ = writeln!(out, "{inner}{} = {}{opts};", value.name(), value.number());
    }
    let _ = writeln!(out, "{indent}}}");
}

/// The name a field kind is written with: scalars by keyword, messages and enums fully qualified.
pub(super) fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
        scalar => format!("{scalar:?}").to_lowercase(),
    }
}

fn options(out: &mut String, indent: &str, message: &DynamicMessage) {
    for option in set_options(message) {
        let _ = writeln!(out, "{indent}option {option};");
    }
}

/// The options that are set to other than their defaults, as `name = value`, sorted.
fn set_options(message: &DynamicMessage) -> Vec<String> {
    let mut set: Vec<String> = message
        .fields()
        .filter(|(field, value)| **value != field.default_value())
        .map(|(field, value)| format!("{} = {}", field.name(), value_text(&field.kind(), value)))
        .collect();
    set.extend(
        message.extensions().map(|(ext, value)| format!("({}) = {}", ext.full_name(), value_text(&ext.kind(), value))),
    );
    set.sort();
    set
}

fn value_text(kind: &Kind, value: &Value) -> String {
    match value {
        Value::Bool(v) => v.to_string(),
        Value::I32(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::U32(v) => v.to_string(),
        Value::U64(v) => v.to_string(),
        Value::F32(v) => v.to_string(),
        Value::F64(v) => v.to_string(),
        Value::String(v) => format!("{v:?}"),
        Value::Bytes(v) => format!("{:?}", String::from_utf8_lossy(v)),
        Value::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
            Some(v) => v.name().to_string(),
            None => n.to_string(),
        },
        Value::List(items) => {
            let items: Vec<String> = items.iter().map(|v| value_text(kind, v)).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Message(m) => {
            let fields: Vec<String> = set_options(m).into_iter().map(|f| f.replacen(" = ", ": ", 1)).collect();
            format!("{{ {} }}", fields.join(" "))
        }
        Value::Map(_) => "{}".to_string(),
    }
}
