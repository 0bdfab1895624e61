//! The builtins a Buildx policy may call, with their argument types: OPA's capabilities as
//! Buildx builds them (`policy/builtins.go` plus Buildx's own functions in `funcs.go`),
//! less the builtins OPA v1 refuses as deprecated (`any`, `all`, `re_match`, `set_diff`,
//! `cast_*`). `print` takes any arguments and is not listed.
//!
//! Types are written compactly: `s` string, `n` number, `b` boolean, `z` null, `a` any,
//! `[T]` array of T, `<T,U>` array of exactly those, `{T}` set of T, `{K:V}` object, `T|U`
//! either, `,` between arguments.

pub const SIGNATURES: &[(&str, &str)] = &[
    ("abs", "n"),
    ("and", "{a},{a}"),
    ("array.concat", "[a],[a]"),
    ("array.flatten", "[a]"),
    ("array.reverse", "[a]"),
    ("array.slice", "[a],n,n"),
    ("base64.decode", "s"),
    ("base64.encode", "s"),
    ("base64.is_valid", "s"),
    ("base64url.decode", "s"),
    ("base64url.encode", "s"),
    ("base64url.encode_no_pad", "s"),
    ("bits.and", "n,n"),
    ("bits.lsh", "n,n"),
    ("bits.negate", "n"),
    ("bits.or", "n,n"),
    ("bits.rsh", "n,n"),
    ("bits.xor", "n,n"),
    ("ceil", "n"),
    ("concat", "s,[s]|{s}"),
    ("contains", "s,s"),
    ("count", "s|[a]|{a:a}|{a}"),
    ("div", "n,n"),
    ("endswith", "s,s"),
    ("equal", "a,a"),
    ("floor", "n"),
    ("format_int", "n,n"),
    ("glob.match", "s,z|[s],s"),
    ("glob.quote_meta", "s"),
    ("gt", "a,a"),
    ("gte", "a,a"),
    ("hex.decode", "s"),
    ("hex.encode", "s"),
    ("indexof", "s,s"),
    ("indexof_n", "s,s"),
    ("intersection", "{{a}}"),
    ("is_array", "a"),
    ("is_boolean", "a"),
    ("is_null", "a"),
    ("is_number", "a"),
    ("is_object", "a"),
    ("is_set", "a"),
    ("is_string", "a"),
    ("json.filter", "{a:a},[s|[a]]|{s|[a]}"),
    ("json.is_valid", "s"),
    ("json.marshal", "a"),
    ("json.marshal_with_options", "a,{s:a}"),
    ("json.patch", "a,[{s:a}]"),
    ("json.remove", "{a:a},[s|[a]]|{s|[a]}"),
    ("json.unmarshal", "s"),
    ("lower", "s"),
    ("lt", "a,a"),
    ("lte", "a,a"),
    ("max", "[a]|{a}"),
    ("min", "[a]|{a}"),
    ("minus", "n|{a},n|{a}"),
    ("mul", "n,n"),
    ("neq", "a,a"),
    ("numbers.range", "n,n"),
    ("numbers.range_step", "n,n,n"),
    ("object.filter", "{a:a},[a]|{a:a}|{a}"),
    ("object.get", "{a:a},a,a"),
    ("object.keys", "{a:a}"),
    ("object.remove", "{a:a},[a]|{a:a}|{a}"),
    ("object.subset", "[a]|{a:a}|{a},[a]|{a:a}|{a}"),
    ("object.union", "{a:a},{a:a}"),
    ("object.union_n", "[{a:a}]"),
    ("or", "{a},{a}"),
    ("plus", "n,n"),
    ("product", "[n]|{n}"),
    ("rand.intn", "s,n"),
    ("regex.find_all_string_submatch_n", "s,s,n"),
    ("regex.find_n", "s,s,n"),
    ("regex.globs_match", "s,s"),
    ("regex.is_valid", "s"),
    ("regex.match", "s,s"),
    ("regex.replace", "s,s,s"),
    ("regex.split", "s,s"),
    ("regex.template_match", "s,s,s,s"),
    ("rem", "n,n"),
    ("replace", "s,s,s"),
    ("round", "n"),
    ("semver.compare", "s,s"),
    ("semver.is_valid", "a"),
    ("sort", "[a]|{a}"),
    ("split", "s,s"),
    ("startswith", "s,s"),
    ("strings.any_prefix_match", "s|[s]|{s},s|[s]|{s}"),
    ("strings.any_suffix_match", "s|[s]|{s},s|[s]|{s}"),
    ("strings.count", "s,s"),
    ("strings.render_template", "s,{s:a}"),
    ("strings.replace_n", "{s:s},s"),
    ("strings.reverse", "s"),
    ("substring", "s,n,n"),
    ("sum", "[n]|{n}"),
    ("time.add_date", "n,n,n,n"),
    ("time.clock", "n|<n,s>"),
    ("time.date", "n|<n,s>"),
    ("time.diff", "n|<n,s>,n|<n,s>"),
    ("time.format", "n|<n,s>|<n,s,s>"),
    ("time.now_ns", ""),
    ("time.parse_duration_ns", "s"),
    ("time.parse_ns", "s,s"),
    ("time.parse_rfc3339_ns", "s"),
    ("time.weekday", "n|<n,s>"),
    ("to_number", "z|b|n|s"),
    ("trim", "s,s"),
    ("trim_left", "s,s"),
    ("trim_prefix", "s,s"),
    ("trim_right", "s,s"),
    ("trim_space", "s"),
    ("trim_suffix", "s,s"),
    ("type_name", "a"),
    ("union", "{{a}}"),
    ("units.parse", "s"),
    ("units.parse_bytes", "s"),
    ("upper", "s"),
    ("urlquery.decode", "s"),
    ("urlquery.decode_object", "s"),
    ("urlquery.encode", "s"),
    ("urlquery.encode_object", "{s:s|[s]|{s}}"),
    ("uuid.parse", "s"),
    ("uuid.rfc4122", "s"),
    ("yaml.is_valid", "s"),
    ("yaml.marshal", "a"),
    ("yaml.unmarshal", "s"),
    // Buildx's own builtins (policy/funcs.go).
    ("artifact_attestation", "a,s"),
    ("github_attestation", "a,s"),
    ("load_json", "s"),
    ("pin_image", "a,s"),
    ("verify_git_signature", "a,s"),
    ("verify_http_pgp_signature", "a,s,s"),
];

/// A type in the notation above.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Any,
    Str,
    Num,
    Bool,
    Null,
    Array(Box<Ty>),
    Tuple(Vec<Ty>),
    Set(Box<Ty>),
    Object(Box<Ty>, Box<Ty>),
    Union(Vec<Ty>),
}

/// The argument types of builtin `name`, if it is one.
pub fn args_of(name: &str) -> Option<Vec<Ty>> {
    let (_, sig) = SIGNATURES.iter().find(|(n, _)| *n == name)?;
    let mut p = Parser {
        s: sig.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    while p.i < p.s.len() {
        out.push(p.union());
        p.eat(b',');
    }
    Some(out)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.s.get(self.i) == Some(&c);
        if hit {
            self.i += 1;
        }
        hit
    }

    fn union(&mut self) -> Ty {
        let mut alts = vec![self.one()];
        while self.eat(b'|') {
            alts.push(self.one());
        }
        if alts.len() == 1 {
            alts.remove(0)
        } else {
            Ty::Union(alts)
        }
    }

    fn one(&mut self) -> Ty {
        let c = self.s.get(self.i).copied().unwrap_or(b'a');
        self.i += 1;
        match c {
            b's' => Ty::Str,
            b'n' => Ty::Num,
            b'b' => Ty::Bool,
            b'z' => Ty::Null,
            b'[' => {
                let t = self.union();
                self.eat(b']');
                Ty::Array(Box::new(t))
            }
            b'<' => {
                let mut items = Vec::new();
                while !self.eat(b'>') && self.i < self.s.len() {
                    items.push(self.union());
                    self.eat(b',');
                }
                Ty::Tuple(items)
            }
            b'{' => {
                let k = self.union();
                let t = if self.eat(b':') {
                    Ty::Object(Box::new(k), Box::new(self.union()))
                } else {
                    Ty::Set(Box::new(k))
                };
                self.eat(b'}');
                t
            }
            _ => Ty::Any,
        }
    }
}

/// Whether a value of type `have` may be passed where `want` is expected.
pub fn fits(have: &Ty, want: &Ty) -> bool {
    match (have, want) {
        (Ty::Any, _) | (_, Ty::Any) => true,
        (Ty::Union(hs), _) => hs.iter().all(|h| fits(h, want)),
        (_, Ty::Union(ws)) => ws.iter().any(|w| fits(have, w)),
        (Ty::Tuple(hs), Ty::Array(w)) => hs.iter().all(|h| fits(h, w)),
        (Ty::Tuple(hs), Ty::Tuple(ws)) => {
            hs.len() == ws.len() && hs.iter().zip(ws).all(|(h, w)| fits(h, w))
        }
        (Ty::Array(h), Ty::Array(w)) | (Ty::Set(h), Ty::Set(w)) => fits(h, w),
        (Ty::Object(hk, hv), Ty::Object(wk, wv)) => fits(hk, wk) && fits(hv, wv),
        _ => have == want,
    }
}

/// OPA's way of writing a type in its messages.
impl std::fmt::Display for Ty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |f: &mut std::fmt::Formatter<'_>, items: &[Ty]| -> std::fmt::Result {
            for (i, t) in items.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{t}")?;
            }
            Ok(())
        };
        match self {
            Ty::Any => f.write_str("any"),
            Ty::Str => f.write_str("string"),
            Ty::Num => f.write_str("number"),
            Ty::Bool => f.write_str("boolean"),
            Ty::Null => f.write_str("null"),
            Ty::Array(t) => write!(f, "array[{t}]"),
            Ty::Tuple(ts) => {
                f.write_str("array<")?;
                list(f, ts)?;
                f.write_str(">")
            }
            Ty::Set(t) => write!(f, "set[{t}]"),
            Ty::Object(k, v) => write!(f, "object[{k}: {v}]"),
            Ty::Union(ts) => {
                f.write_str("any<")?;
                list(f, ts)?;
                f.write_str(">")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_types() {
        let count = args_of("count").unwrap();
        assert_eq!(count.len(), 1);
        assert!(!fits(&Ty::Num, &count[0]));
        assert!(fits(&Ty::Str, &count[0]));
        assert!(fits(&Ty::Tuple(vec![Ty::Num]), &count[0]));
        let concat = args_of("concat").unwrap();
        assert!(!fits(&Ty::Tuple(vec![Ty::Num]), &concat[1]));
        assert!(fits(&Ty::Set(Box::new(Ty::Str)), &concat[1]));
        assert_eq!(args_of("time.now_ns").unwrap(), vec![]);
        assert_eq!(
            args_of("glob.match").unwrap()[1].to_string(),
            "any<null, array[string]>"
        );
        assert!(args_of("trace").is_none() && args_of("http.send").is_none());
    }
}
