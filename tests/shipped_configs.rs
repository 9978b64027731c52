//! Every shipped `configs/*.toml` runs: each file with the command it is written for, on 2 ranks,
//! for a few steps (`time.max_steps`), so a key renamed in the code or a file edited by hand
//! cannot leave an example broken. A new file in `configs/` must be added to the table below.

mod common;

use common::*;

/// The command each shipped file is for, and the overrides that keep the run to a few steps.
const SHIPPED: [(&str, &str, &[&str]); 11] = [
    ("defaults.toml", "forward", &["time.max_steps=3"]),
    ("condensation.toml", "forward", &["time.max_steps=3"]),
    ("kq3d.toml", "forward", &["time.max_steps=3"]),
    ("scaling.toml", "forward", &["time.max_steps=3"]),
    ("quickstart.toml", "generate", &["time.max_steps=3"]),
    ("particles.toml", "particles", &["time.max_steps=3"]),
    ("filter_1d.toml", "filter", &["time.max_steps=3"]),
    ("filter_2d.toml", "filter", &["time.max_steps=3"]),
    ("study.toml", "study", &["time.max_steps=3"]),
    (
        "moons.toml",
        "generate",
        &["time.max_steps=3", "reverse.samples=500"],
    ),
    (
        "image.toml",
        "generate",
        &["time.max_steps=3", "reverse.samples=500"],
    ),
];

#[test]
fn every_shipped_config_runs_a_few_steps_on_two_ranks() {
    let configs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut on_disk: Vec<String> = std::fs::read_dir(&configs)
        .expect("configs/")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = SHIPPED.iter().map(|(f, _, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "every configs/*.toml is listed in SHIPPED");

    let tmp = tempdir();
    for (file, command, sets) in SHIPPED {
        // The file runs from a temporary directory: paths into the repository made absolute.
        let text = std::fs::read_to_string(configs.join(file))
            .unwrap()
            .replace(
                "\"../assets/",
                &format!("\"{}/assets/", env!("CARGO_MANIFEST_DIR")),
            );
        let name = file.trim_end_matches(".toml");
        let out = run_command(command, tmp.path(), name, &text, 2, sets);
        // A study writes its table; every other command its resolved config.
        let written = if command == "study" {
            "study.md"
        } else {
            "config.toml"
        };
        assert!(
            out.join(written).is_file(),
            "{file}: nlfp {command} wrote no {written}"
        );
    }
}
