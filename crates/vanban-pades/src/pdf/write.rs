//! Appending an incremental update: new and changed objects, a cross-reference section of the
//! same kind as the last one (table or stream), and a trailer pointing back with /Prev. The
//! bytes before the update are never touched.

use std::collections::BTreeMap;

use super::file::PdfFile;
use super::object::{Dict, Object, Ref, write_object};

/// The objects of one incremental update.
pub struct Update<'f, 'a> {
    file: &'f PdfFile<'a>,
    next: u32,
    objects: BTreeMap<u32, Object>,
    root: Option<super::Ref>,
}

/// An update written out, with where each object's bytes start.
pub struct Written {
    pub bytes: Vec<u8>,
    pub offsets: BTreeMap<u32, usize>,
}

impl<'f, 'a> Update<'f, 'a> {
    pub fn new(file: &'f PdfFile<'a>) -> Self {
        Update { next: file.size(), file, objects: BTreeMap::new(), root: None }
    }

    /// Reserves a new object number.
    pub fn alloc(&mut self) -> Ref {
        let r = Ref::new(self.next, 0);
        self.next += 1;
        r
    }

    /// Adds a new object and returns its reference.
    pub fn add(&mut self, o: Object) -> Ref {
        let r = self.alloc();
        self.objects.insert(r.num, o);
        r
    }

    /// Sets (a new or a changed) object.
    pub fn set(&mut self, r: Ref, o: Object) {
        self.objects.insert(r.num, o);
    }

    /// Points the trailer at another catalog (only the attack simulations need this).
    pub fn set_root(&mut self, r: Ref) {
        self.root = Some(r);
    }

    /// Writes the update after the file's bytes. The original file is copied first.
    pub fn write(self) -> Written {
        let data = self.file.data;
        let mut out = Vec::with_capacity(data.len() + 16 * 1024);
        out.extend_from_slice(data);
        if !out.ends_with(b"\n") && !out.ends_with(b"\r") {
            out.push(b'\n');
        }
        let mut offsets = BTreeMap::new();
        for (num, o) in &self.objects {
            offsets.insert(*num, out.len());
            out.extend_from_slice(format!("{num} 0 obj\n").as_bytes());
            write_object(&mut out, o);
            out.extend_from_slice(b"\nendobj\n");
        }
        let last = &self.file.sections[self.file.sections.len() - 1];
        let mut trailer = Dict::new();
        for key in ["Root", "Info", "ID", "Encrypt"] {
            if let Some(v) = last.trailer.get(key) {
                trailer.set(key, v.clone());
            }
        }
        if let Some(r) = self.root {
            trailer.set("Root", Object::Ref(r));
        }
        trailer.set("Size", Object::Int(i64::from(self.next)));
        trailer.set("Prev", Object::Int(last.offset as i64));
        let xref_at = out.len();
        if last.is_stream {
            // A cross-reference stream (uncompressed, W [1 4 2]) holding its own entry too.
            let own = self.next;
            let mut rows = Vec::new();
            let mut index = Vec::new();
            let mut all: Vec<(u32, usize)> = offsets.iter().map(|(k, v)| (*k, *v)).collect();
            all.push((own, xref_at));
            for (num, off) in &all {
                index.push(Object::Int(i64::from(*num)));
                index.push(Object::Int(1));
                rows.push(1u8);
                rows.extend_from_slice(&(*off as u32).to_be_bytes());
                rows.extend_from_slice(&0u16.to_be_bytes());
            }
            trailer.set("Size", Object::Int(i64::from(own) + 1));
            trailer.set("Type", Object::name("XRef"));
            trailer.set("W", Object::Array(vec![Object::Int(1), Object::Int(4), Object::Int(2)]));
            trailer.set("Index", Object::Array(index));
            out.extend_from_slice(format!("{own} 0 obj\n").as_bytes());
            write_object(&mut out, &Object::Stream(trailer, rows));
            out.extend_from_slice(b"\nendobj\n");
        } else {
            out.extend_from_slice(b"xref\n");
            // Subsections of consecutive numbers.
            let nums: Vec<u32> = offsets.keys().copied().collect();
            let mut i = 0;
            while i < nums.len() {
                let mut j = i;
                while j + 1 < nums.len() && nums[j + 1] == nums[j] + 1 {
                    j += 1;
                }
                out.extend_from_slice(format!("{} {}\n", nums[i], j - i + 1).as_bytes());
                for n in &nums[i..=j] {
                    out.extend_from_slice(format!("{:010} 00000 n\r\n", offsets[n]).as_bytes());
                }
                i = j + 1;
            }
            out.extend_from_slice(b"trailer\n");
            write_object(&mut out, &Object::Dict(trailer));
            out.push(b'\n');
        }
        out.extend_from_slice(format!("startxref\n{xref_at}\n%%EOF\n").as_bytes());
        Written { bytes: out, offsets }
    }
}
