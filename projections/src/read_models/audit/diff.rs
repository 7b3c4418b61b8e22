//! What an event changed in its record: the record's state before and after, as the domain folds it,
//! compared field by field (Part 11 AT-03: old and new values, nothing obscured).

use serde::Serialize;
use serde_json::Value;

/// One field that changed. `field` is the path of object keys (`counters.c1.value`); lists and values
/// are compared whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

/// Every field whose value differs between `before` and `after`, in key order.
pub fn changes(before: &Value, after: &Value) -> Vec<Change> {
    let mut found = Vec::new();
    walk("", before, after, &mut found);
    found
}

fn walk(path: &str, before: &Value, after: &Value, found: &mut Vec<Change>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => {
            let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                let field = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                walk(&field, old.get(key).unwrap_or(&Value::Null), new.get(key).unwrap_or(&Value::Null), found);
            }
        }
        _ => found.push(Change { field: path.to_owned(), old: before.clone(), new: after.clone() }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_fields_that_differ_are_changes_with_their_old_and_new_values_in_key_order() {
        let before =
            json!({"status": "running", "good": 10, "counters": {"c1": {"value": 5, "kind": "good"}}, "tags": [1]});
        let after = json!({"status": "running", "good": 12, "counters": {"c1": {"value": 7, "kind": "good"}, "c2": {"value": 1}}, "tags": [1, 2]});
        assert_eq!(
            changes(&before, &after),
            [
                Change { field: "counters.c1.value".into(), old: json!(5), new: json!(7) },
                Change { field: "counters.c2".into(), old: Value::Null, new: json!({"value": 1}) },
                Change { field: "good".into(), old: json!(10), new: json!(12) },
                Change { field: "tags".into(), old: json!([1]), new: json!([1, 2]) },
            ]
        );
        assert_eq!(changes(&after, &after), []);
    }
}
