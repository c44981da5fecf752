//! Where media live: the kinds of cloud document, and the `parent_type` of an upload or
//! a media, which names the kind of document it belongs in (wire contract §4).

use serde::{Deserialize, Serialize};

/// The kinds of cloud document that hold media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocType {
    Docx,
    Doc,
    Sheet,
    Bitable,
    /// A file in a drive folder: downloaded whole at `/open-apis/drive/v1/files/{token}/download`,
    /// its bytes kept as a media of parent type [`ParentType::Explorer`] under its own token.
    File,
}

impl DocType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Docx => "docx",
            Self::Doc => "doc",
            Self::Sheet => "sheet",
            Self::Bitable => "bitable",
            Self::File => "file",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "docx" => Some(Self::Docx),
            "doc" => Some(Self::Doc),
            "sheet" => Some(Self::Sheet),
            "bitable" => Some(Self::Bitable),
            "file" => Some(Self::File),
            _ => None,
        }
    }
}

/// An upload's `parent_type` \[doc\].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentType {
    DocxImage,
    DocxFile,
    SheetImage,
    SheetFile,
    BitableImage,
    BitableFile,
    DocImage,
    DocFile,
    /// Uploaded for an import: in no document.
    CcmImportOpen,
    /// The bytes of a drive file (a document of type `file`): never a media upload's
    /// `parent_type`, and never served by the media download.
    Explorer,
}

impl ParentType {
    pub const ALL: [Self; 10] = [
        Self::DocxImage,
        Self::DocxFile,
        Self::SheetImage,
        Self::SheetFile,
        Self::BitableImage,
        Self::BitableFile,
        Self::DocImage,
        Self::DocFile,
        Self::CcmImportOpen,
        Self::Explorer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DocxImage => "docx_image",
            Self::DocxFile => "docx_file",
            Self::SheetImage => "sheet_image",
            Self::SheetFile => "sheet_file",
            Self::BitableImage => "bitable_image",
            Self::BitableFile => "bitable_file",
            Self::DocImage => "doc_image",
            Self::DocFile => "doc_file",
            Self::CcmImportOpen => "ccm_import_open",
            Self::Explorer => "explorer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The kind of document a media of this parent type sits in; `None` for imports.
    pub fn doc_type(self) -> Option<DocType> {
        match self {
            Self::DocxImage | Self::DocxFile => Some(DocType::Docx),
            Self::SheetImage | Self::SheetFile => Some(DocType::Sheet),
            Self::BitableImage | Self::BitableFile => Some(DocType::Bitable),
            Self::DocImage | Self::DocFile => Some(DocType::Doc),
            Self::Explorer => Some(DocType::File),
            Self::CcmImportOpen => None,
        }
    }

    /// Whether media uploads (`upload_all`, `upload_prepare`) accept this parent type.
    pub fn is_media(self) -> bool {
        self != Self::Explorer
    }

    /// Whether `parent_node` names a block inside the document (docx), the document
    /// itself being named by `extra.drive_route_token`.
    pub fn node_is_block(self) -> bool {
        matches!(self, Self::DocxImage | Self::DocxFile)
    }
}

impl std::fmt::Display for ParentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in ParentType::ALL {
            assert_eq!(ParentType::parse(p.as_str()), Some(p));
        }
        assert_eq!(ParentType::parse("docx"), None);
        assert_eq!(ParentType::CcmImportOpen.doc_type(), None);
        assert_eq!(ParentType::SheetFile.doc_type(), Some(DocType::Sheet));
    }
}
