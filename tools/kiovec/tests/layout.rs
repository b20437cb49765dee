//! Host test: the hand-mirrored ABI in `kiovec::sys` against `include/uapi/linux/kiovec.h`.
//!
//! A C program compiled against the header prints every struct's size and field offsets,
//! every constant and every ioctl number; the test compares them with the crate's. It also
//! reads the header's text for the list of structs, fields and `#define`s, so a field or
//! constant added to the header and not to the crate fails here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

fn header_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../include/uapi")
}

fn header_text() -> String {
    std::fs::read_to_string(header_dir().join("linux/kiovec.h")).expect("read kiovec.h")
}

/// Structs of the header in declaration order, with their fields in order.
fn header_structs(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut cur: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("struct ") {
            if let Some(name) = rest.strip_suffix(" {") {
                cur = Some((name.to_string(), Vec::new()));
                continue;
            }
        }
        if line == "};" {
            if let Some(s) = cur.take() {
                out.push(s);
            }
            continue;
        }
        if let Some((_, fields)) = cur.as_mut() {
            // "__u64 reserved[4];" -> "reserved"
            let decl = line.trim_end_matches(';');
            let name = decl.split_whitespace().last().expect("field name");
            fields.push(name.split('[').next().unwrap().to_string());
        }
    }
    out
}

/// Every `#define KIOVEC_*` of the header.
fn header_defines(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("KIOVEC_"))
        .map(str::to_string)
        .collect()
}

/// Compiles and runs a C program printing "name value" lines for what the crate declares.
fn c_view() -> BTreeMap<String, u64> {
    let mut src = String::from(
        "#include <stddef.h>\n#include <stdio.h>\n#include <linux/kiovec.h>\n\
         #define P(n, v) printf(\"%s %llu\\n\", n, (unsigned long long)(v))\nint main(void) {\n",
    );
    for (name, _, fields) in kiovec::sys::layouts() {
        writeln!(src, "P(\"sizeof {name}\", sizeof(struct {name}));").unwrap();
        for (f, _) in fields {
            writeln!(src, "P(\"offsetof {name}.{f}\", offsetof(struct {name}, {f}));").unwrap();
        }
    }
    for (name, _) in kiovec::sys::constants() {
        writeln!(src, "P(\"{name}\", {name});").unwrap();
    }
    src.push_str("return 0; }\n");

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("layout");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join("layout.c");
    let exe = dir.join("layout");
    std::fs::write(&c, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let st = Command::new(&cc)
        .args(["-Wall", "-Werror", "-o"])
        .arg(&exe)
        .arg("-I")
        .arg(header_dir())
        .arg(&c)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {cc}: {e}"));
    assert!(st.success(), "{cc} failed on {}", c.display());
    let out = Command::new(&exe).output().expect("run layout program");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

#[test]
fn sizes_offsets_constants_and_ioctl_numbers_match_the_header() {
    let c = c_view();
    let mut rust = BTreeMap::new();
    for (name, size, fields) in kiovec::sys::layouts() {
        rust.insert(format!("sizeof {name}"), size as u64);
        for (f, off) in fields {
            rust.insert(format!("offsetof {name}.{f}"), off as u64);
        }
    }
    for (name, v) in kiovec::sys::constants() {
        rust.insert(name.to_string(), v);
    }
    assert_eq!(c.len(), rust.len());
    let diffs: Vec<_> = rust
        .iter()
        .filter(|(k, v)| c.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: crate {v}, header {:?}", c.get(k)))
        .collect();
    assert!(diffs.is_empty(), "the crate's ABI differs from kiovec.h:\n{}", diffs.join("\n"));
    // Spot checks with numbers written out, so this test can fail even if both sides moved.
    assert_eq!(c["KIOVEC_IOC_INFO"], 0x8040_b900);
    assert_eq!(c["KIOVEC_IOC_RESET"], 0x0000_b902);
    assert_eq!(c["KIOVEC_IOC_TRANSMIT"], 0x4020_b905);
    assert_eq!(c["KIOVEC_IOC_ADD_FILE"], 0xc038_b906);
}

#[test]
fn every_struct_and_field_of_the_header_is_mirrored_in_order() {
    let header = header_structs(&header_text());
    let crate_side: Vec<(String, Vec<String>)> = kiovec::sys::layouts()
        .into_iter()
        .map(|(n, _, f)| (n.to_string(), f.into_iter().map(|(f, _)| f.to_string()).collect()))
        .collect();
    assert!(header.len() >= 12, "parsed only {} structs from kiovec.h", header.len());
    assert_eq!(crate_side, header);
}

#[test]
fn every_define_of_the_header_is_mirrored() {
    let defines = header_defines(&header_text());
    let ours: Vec<&str> = kiovec::sys::constants().iter().map(|(n, _)| *n).collect();
    let missing: Vec<_> = defines.iter().filter(|d| !ours.contains(&d.as_str())).collect();
    assert!(defines.len() >= 30, "parsed only {} defines", defines.len());
    assert!(missing.is_empty(), "kiovec.h defines these, kiovec::sys does not: {missing:?}");
}
