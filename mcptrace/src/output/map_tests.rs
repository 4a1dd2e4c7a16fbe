//! Maps rendered in both formats, with bpftrace's sorting rules.

use super::{
    json,
    record::{MapDump, MapKind, MapValue, Value},
    text::{self, lhist_number, power_of_two},
};

fn dump(name: &str, kind: MapKind, entries: Vec<(Vec<Value>, MapValue)>) -> MapDump {
    MapDump { name: name.into(), kind, entries }
}
fn text_of(d: &MapDump) -> String {
    let mut out = Vec::new();
    text::map(d, &mut out);
    String::from_utf8(out).unwrap()
}
fn json_of(d: &MapDump) -> String {
    let mut out = Vec::new();
    json::map(d, &mut out);
    String::from_utf8(out).unwrap()
}
fn int(v: i64) -> Value {
    Value::int(v)
}
fn scalar(v: i64) -> MapValue {
    MapValue::Scalar(Value::int(v))
}

#[test]
fn scalars_sort_ascending_by_value_with_signed_keys() {
    let d = dump(
        "@a",
        MapKind::Scalar,
        vec![(vec![int(1)], scalar(2)), (vec![int(-3)], scalar(1)), (vec![int(2)], scalar(1))],
    );
    assert_eq!(text_of(&d), "@a[-3]: 1\n@a[2]: 1\n@a[1]: 2\n");
    assert_eq!(
        json_of(&d),
        "{\"type\": \"map\", \"data\": {\"@a\": {\"-3\": 1, \"2\": 1, \"1\": 2}}}\n"
    );
    let keyless = dump("@c", MapKind::Scalar, vec![(vec![], scalar(0))]);
    assert_eq!(text_of(&keyless), "@c: 0\n");
    assert_eq!(json_of(&keyless), "{\"type\": \"map\", \"data\": {\"@c\": 0}}\n");
    let multi =
        dump("@c", MapKind::Scalar, vec![(vec![int(1), Value::Str(b"x".to_vec())], scalar(1))]);
    assert_eq!(text_of(&multi), "@c[1, x]: 1\n");
    assert_eq!(json_of(&multi), "{\"type\": \"map\", \"data\": {\"@c\": {\"1,x\": 1}}}\n");
}

#[test]
fn avg_and_stats_truncate_toward_zero_and_end_with_a_blank_line() {
    let avg = dump(
        "@a",
        MapKind::Avg,
        vec![
            (vec![int(1)], MapValue::Average { count: 2, total: 15 }),
            (vec![int(2)], MapValue::Average { count: 2, total: -15 }),
        ],
    );
    assert_eq!(text_of(&avg), "@a[2]: -7\n@a[1]: 7\n\n");
    let stats =
        dump("@st", MapKind::Stats, vec![(vec![], MapValue::Average { count: 2, total: 30 })]);
    assert_eq!(text_of(&stats), "@st: count 2, average 15, total 30\n\n");
    assert_eq!(
        json_of(&stats),
        "{\"type\": \"stats\", \"data\": {\"@st\": {\"count\": 2, \"average\": 15, \"total\": 30}}}\n"
    );
    assert_eq!(text_of(&dump("@e", MapKind::Avg, vec![])), "\n\n");
    assert_eq!(text_of(&dump("@e", MapKind::Scalar, vec![])), "\n");
    assert_eq!(json_of(&dump("@e", MapKind::Scalar, vec![])), "");
}

#[test]
fn log2_histogram_lines_and_labels() {
    // -1, 0, 1, 1, 2, 3, 5, 6, and 1024: buckets 0,1,2,3,4 and 12.
    let buckets = vec![(0, 1), (1, 1), (2, 2), (3, 2), (4, 2), (12, 1)];
    let d = dump("@h", MapKind::Hist, vec![(vec![], MapValue::Buckets(buckets))]);
    let t = text_of(&d);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "@h: ");
    assert_eq!(lines[1], format!("(..., 0)               1 |{:<52}|", "@".repeat(26)));
    assert_eq!(lines[3], format!("[1]                    2 |{}|", "@".repeat(52)));
    assert_eq!(lines[4], format!("[2, 4)                 2 |{}|", "@".repeat(52)));
    assert_eq!(lines[6], format!("[8, 16)                0 |{:52}|", ""));
    assert_eq!(lines[13], format!("[1K, 2K)               1 |{:<52}|", "@".repeat(26)));
    assert_eq!(lines.len(), 15, "header, 13 buckets, blank line");
    assert!(t.ends_with("|\n\n"), "a blank line after each key");
    assert_eq!(power_of_two(20), "1M");
    assert_eq!(power_of_two(33), "8G");
    let j = json_of(&dump(
        "@h",
        MapKind::Hist,
        vec![(vec![], MapValue::Buckets(vec![(0, 1), (1, 1), (2, 1), (4, 1)]))],
    ));
    assert_eq!(
        j,
        "{\"type\": \"hist\", \"data\": {\"@h\": [{\"max\": -1, \"count\": 1}, {\"min\": 0, \"max\": 0, \"count\": 1}, {\"min\": 1, \"max\": 1, \"count\": 1}, {\"min\": 2, \"max\": 3, \"count\": 0}, {\"min\": 4, \"max\": 7, \"count\": 1}]}}\n"
    );
}

#[test]
fn linear_histogram_labels_and_overflow() {
    let kind = MapKind::Lhist { min: 0, max: 100, step: 10 };
    let d =
        dump("@l", kind, vec![(vec![], MapValue::Buckets(vec![(0, 1), (1, 1), (2, 2), (11, 2)]))]);
    let t = text_of(&d);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[1].starts_with("(..., 0)  "));
    assert!(lines[2].starts_with("[0, 10)   "));
    assert!(lines[3].starts_with("[10, 20)  "));
    assert!(lines[11].starts_with("[90, 100) "));
    assert!(lines[12].starts_with("[100, ...)"));
    assert_eq!(lhist_number(2048), "2K");
    assert_eq!(lhist_number(3 * 1_048_576), "3M");
    assert_eq!(lhist_number(1000), "1000");
    let j = json_of(&d);
    assert!(
        j.contains("{\"max\": -1, \"count\": 1}, {\"min\": 0, \"max\": 9, \"count\": 1}"),
        "{j}"
    );
    assert!(j.contains("{\"min\": 100, \"count\": 2}]"), "{j}");
}

#[test]
fn histogram_keys_sort_by_total_and_print_top_and_div() {
    let h = |c| MapValue::Buckets(vec![(2, c)]);
    let d = dump(
        "@hk",
        MapKind::Hist,
        vec![(vec![Value::Str(b"b".to_vec())], h(2)), (vec![Value::Str(b"a".to_vec())], h(1))],
    );
    let t = text_of(&d);
    assert!(t.find("@hk[a]: \n").unwrap() < t.find("@hk[b]: \n").unwrap());
    let top =
        dump("@x", MapKind::Scalar, vec![(vec![int(1)], scalar(2000)), (vec![int(2)], scalar(10))])
            .top_div(1, 1000);
    assert_eq!(text_of(&top), "@x[1]: 2\n");
}
