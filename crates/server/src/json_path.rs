//! JSON read into a type, one way everywhere (request bodies, manifests, fault rules):
//! a refusal names the JSON path at fault, `$` for the whole document.

/// `bytes` as a `T`, or the JSON path at fault and what is wrong there.
pub fn from_slice<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, (String, String)> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "$".to_owned() } else { path };
        (path, e.into_inner().to_string())
    })
}
