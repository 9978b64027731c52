//! Reading sample coordinates for `initial.kind = "points"`.
//!
//! The format is a small CSV: one sample per line, `dim` comma-separated numbers (`x`, `x,y`
//! or `x,y,z`).
//! Blank lines and lines starting with `#` are skipped, whitespace around fields is ignored, and
//! the first remaining line is a header (and skipped) when none of its fields is a number.

/// Parses a CSV of sample coordinates with `dim` (1 or 2) numbers per line: one `[x, y]` per
/// sample (`y = 0` in 1D). See [`parse_coordinates`] for the format and the errors.
pub fn parse_points_csv(
    text: &str,
    dim: usize,
    path_for_messages: &str,
) -> Result<Vec<[f64; 2]>, String> {
    parse_coordinates(text, dim, path_for_messages)
}

/// Parses a CSV of sample coordinates with `dim` numbers per line (`1 <= dim <= N`) into
/// points of `N` coordinates, the ones beyond `dim` zero. Errors read
/// `<path_for_messages>:<line>: <what is wrong>`, with 1-based line numbers, for example
/// `points.csv:17: expected 2 numbers, found 3` or `points.csv:5: "1.2x" is not a number`;
/// non-finite values and a file without any sample are errors too.
pub fn parse_coordinates<const N: usize>(
    text: &str,
    dim: usize,
    path_for_messages: &str,
) -> Result<Vec<[f64; N]>, String> {
    if dim == 0 || dim > N {
        return Err(format!(
            "{path_for_messages}: dimension must be 1 to {N}, got {dim}"
        ));
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut samples = Vec::new();
    let mut header_possible = true;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if std::mem::take(&mut header_possible) && is_header(&fields) {
            continue;
        }
        let at = |msg: String| format!("{path_for_messages}:{}: {msg}", index + 1);
        if fields.len() != dim {
            let numbers = if dim == 1 { "number" } else { "numbers" };
            return Err(at(format!(
                "expected {dim} {numbers}, found {}",
                fields.len()
            )));
        }
        let mut point = [0.0; N];
        for (slot, field) in point.iter_mut().zip(&fields) {
            let value: f64 = if field.is_empty() {
                return Err(at("empty field, expected a number".to_string()));
            } else {
                field
                    .parse()
                    .map_err(|_| at(format!("\"{field}\" is not a number")))?
            };
            if !value.is_finite() {
                return Err(at(format!("\"{field}\" is not a finite number")));
            }
            *slot = value;
        }
        samples.push(point);
    }
    if samples.is_empty() {
        return Err(format!("{path_for_messages}: no samples found"));
    }
    Ok(samples)
}

/// A header line: no field parses as a number.
fn is_header(fields: &[&str]) -> bool {
    fields.iter().all(|f| f.parse::<f64>().is_err())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, dim: usize) -> Vec<[f64; 2]> {
        parse_points_csv(text, dim, "points.csv").unwrap()
    }

    fn err(text: &str, dim: usize) -> String {
        parse_points_csv(text, dim, "points.csv").unwrap_err()
    }

    #[test]
    fn parses_two_dimensional_samples() {
        assert_eq!(
            ok("0.5,1\n-2.25, 3e-1\n", 2),
            vec![[0.5, 1.0], [-2.25, 0.3]]
        );
    }

    #[test]
    fn three_dimensional_samples() {
        let text = "x,y,z\n0.5,1,-2\n-2.25, 3e-1, 0\n";
        let got: Vec<[f64; 3]> = parse_coordinates(text, 3, "p.csv").unwrap();
        assert_eq!(got, vec![[0.5, 1.0, -2.0], [-2.25, 0.3, 0.0]]);
        let e = parse_coordinates::<3>("1,2\n", 3, "p.csv").unwrap_err();
        assert_eq!(e, "p.csv:1: expected 3 numbers, found 2");
    }

    #[test]
    fn one_dimensional_samples_have_zero_y() {
        assert_eq!(ok("1.5\n-2\n", 1), vec![[1.5, 0.0], [-2.0, 0.0]]);
    }

    #[test]
    fn header_is_skipped() {
        assert_eq!(ok("x,y\n1,2\n", 2), vec![[1.0, 2.0]]);
        assert_eq!(ok("# data\n\n  x , y \n1,2\n", 2), vec![[1.0, 2.0]]);
        assert_eq!(ok("x\n3\n", 1), vec![[3.0, 0.0]]);
    }

    #[test]
    fn only_the_first_content_line_can_be_a_header() {
        assert_eq!(
            err("x,y\n1,2\nx,y\n", 2),
            "points.csv:3: \"x\" is not a number"
        );
    }

    #[test]
    fn blank_and_comment_lines_and_whitespace_are_skipped() {
        let text = "\n# comment\n  1 ,\t2  \n\n   # indented comment\n3,4\r\n";
        assert_eq!(ok(text, 2), vec![[1.0, 2.0], [3.0, 4.0]]);
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        assert_eq!(ok("\u{feff}x,y\n1,2\n", 2), vec![[1.0, 2.0]]);
    }

    #[test]
    fn wrong_field_count_names_line() {
        let text = "x,y\n1,2\n1,2,3\n";
        assert_eq!(err(text, 2), "points.csv:3: expected 2 numbers, found 3");
        assert_eq!(err("1,2\n", 1), "points.csv:1: expected 1 number, found 2");
        assert_eq!(err("1\n", 2), "points.csv:1: expected 2 numbers, found 1");
    }

    #[test]
    fn line_numbers_count_skipped_lines() {
        let text = "# header comment\n\nx,y\n1,2\n\n3,4,5\n";
        assert_eq!(err(text, 2), "points.csv:6: expected 2 numbers, found 3");
    }

    #[test]
    fn bad_number_names_line_and_field() {
        let text = "1,2\n3,4\n5,6\n7,8\n1.2x,3\n";
        assert_eq!(err(text, 2), "points.csv:5: \"1.2x\" is not a number");
        assert_eq!(err("1.2x,3\n", 2), "points.csv:1: \"1.2x\" is not a number");
    }

    #[test]
    fn empty_field_is_an_error() {
        assert_eq!(
            err("1,\n", 2),
            "points.csv:1: empty field, expected a number"
        );
    }

    #[test]
    fn non_finite_values_are_rejected() {
        assert_eq!(
            err("1,2\nnan,1\n", 2),
            "points.csv:2: \"nan\" is not a finite number"
        );
        assert_eq!(
            err("1,inf\n", 2),
            "points.csv:1: \"inf\" is not a finite number"
        );
        assert!(err("1e999,0\n", 2).contains("not a finite number"));
    }

    #[test]
    fn no_samples_is_an_error() {
        assert_eq!(err("", 2), "points.csv: no samples found");
        assert_eq!(
            err("# only comments\n\n", 2),
            "points.csv: no samples found"
        );
        assert_eq!(err("x,y\n", 2), "points.csv: no samples found");
    }

    #[test]
    fn bad_dimension_is_an_error() {
        assert!(err("1,2\n", 3).contains("dimension must be 1 to 2, got 3"));
    }
}
