//! Feishu's error codes: code → HTTP status → message, one row each.

/// Defines [`ErrorCode`] and its lookups from one table, so a code's number, status and
/// message can never drift apart.
macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = ($code:expr, $status:expr, $msg:expr), )*) => {
        /// Every error code the server answers with. The message is Feishu's own text, byte
        /// for byte where it is known (wire contract §1, §3, §4, §6), so clients that match
        /// on it work.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// The number in the envelope's `code`.
            pub const fn code(self) -> i64 {
                match self { $( Self::$name => $code, )* }
            }

            /// The HTTP status Feishu answers this code with.
            pub const fn http_status(self) -> u16 {
                match self { $( Self::$name => $status, )* }
            }

            /// Feishu's message for this code. The scope errors append the scope list
            /// (see [`crate::scope::bracketed`]).
            pub const fn message(self) -> &'static str {
                match self { $( Self::$name => $msg, )* }
            }
        }

        /// Every code, for lookups and exhaustive tests.
        pub const ALL: &[ErrorCode] = &[ $( ErrorCode::$name, )* ];
    };
}

error_codes! {
    /// No `Authorization`, or not `Bearer <token>`.
    MissingAccessToken = (99991661, 400,
        "Missing access token for authorization. Please make a request with token attached."),
    /// Unknown or expired tenant token, or an app token where it is not accepted.
    /// Feishu's text for 99991663 has no final full stop; 99991668's has one.
    InvalidTenantToken = (99991663, 400,
        "Invalid access token for authorization. Please make a request with token attached"),
    /// Unknown user token.
    InvalidUserToken = (99991668, 400,
        "Invalid access token for authorization. Please make a request with token attached."),
    /// A user token that has expired.
    UserTokenExpired = (99991677, 400, "token expire"),
    /// A token of no known form.
    InvalidTokenForm = (99991671, 400, "Invalid token: must start with t-/u-"),
    /// The app (tenant token) lacks every accepted scope.
    AppScopeMissing = (99991672, 400, "Access denied. One of the following scopes is required:"),
    /// The user (user token) granted none of the accepted scopes.
    UserScopeMissing = (99991679, 400,
        "Unauthorized. You do not have permission to perform the requested operation on the resource. Please request user re-authorization and try again. required one of these privileges:"),
    /// Over a rate limit.
    RateLimited = (99991400, 429, "request trigger frequency limit"),
    /// Storage trouble; details only in the log.
    Internal = (1061001, 500, "internal error."),
    /// A parameter is missing or malformed.
    ParamsError = (1061002, 400, "params error."),
    /// No media with that token.
    NotFound = (1061003, 404, "not found."),
    /// The caller may not see (or change) the document.
    Forbidden = (1061004, 403, "forbidden."),
    /// The media was deleted.
    Deleted = (1061007, 404, "file has been delete."),
    /// Upload: a bad file name.
    FileNameInvalid = (1061008, 400, "file name invalid."),
    /// Upload: an upload id that is unknown or too old.
    UploadIdExpired = (1061021, 400, "upload id expire."),
    /// Upload: the file is over the size limit.
    FileTooLarge = (1061043, 400, "file size beyond limit."),
    /// Upload: `parent_node` names no document.
    ParentNodeNotExist = (1061044, 400, "parent node not exist."),
    /// Transient trouble; the client may retry. Feishu answers it on a 400 in the wild;
    /// clients key on the code.
    CanRetry = (1061045, 400, "can retry."),
    /// Upload: another caller's upload id.
    UploadUserMismatch = (1062007, 400, "upload user not match."),
    /// Upload: checksum mismatch.
    ChecksumInvalid = (1062008, 400, "checksum param invalid."),
    /// Upload: size does not match the bytes received.
    SizeMismatch = (1062009, 400, "file size not match."),
    /// Chunked upload: a block is missing.
    BlockMissing = (1062010, 400, "block missing, please upload all blocks."),
    /// Chunked upload: `seq` or `block_num` out of range.
    BlockNumOutOfBounds = (1062011, 400, "block num out of bounds."),
    /// Token endpoints: unknown `app_id` or malformed body (answered with HTTP 200).
    InvalidParam = (10003, 200, "invalid param"),
        /// The admin API: no admin token, or the wrong one \[ours: not a Feishu code\].
    AdminUnauthorized = (1069401, 401, "admin token missing or wrong"),
    /// The admin API: no such object \[ours: not a Feishu code\].
    AdminNotFound = (1069404, 404, "no such object"),
    /// Token endpoints: wrong `app_secret` (answered with HTTP 200).
    AppSecretInvalid = (10014, 200, "app secret invalid"),

    // The docx family (documents-and-oauth §7).
    /// docx: a parameter is missing or malformed.
    DocxInvalidParam = (1770001, 400, "invalid param"),
    /// docx: no such document.
    DocxNotFound = (1770002, 404, "not found"),
    /// docx: a `page_token` this server did not hand out for this document.
    DocxInvalidPageToken = (1770022, 400, "invalid page token"),
    /// docx: the caller has no role on the document. Feishu's own capitals.
    DocxForbidden = (1770032, 403, "forBidden"),

    // Sheets v2 (§8) [ours where undocumented: the statuses and texts].
    /// sheets: a range that does not parse, or names no cells.
    SheetsBadRange = (90202, 400, "wrong range"),
    /// sheets: a range whose sheet id the spreadsheet does not have.
    SheetsSheetNotFound = (90215, 400, "sheetId not found"),
    /// sheets: no such spreadsheet.
    SheetsNotFound = (91402, 404, "NOTEXIST"),
    /// sheets: the caller has no role on the spreadsheet.
    SheetsForbidden = (91403, 403, "FORBIDDEN"),

    // Bitable (§9): errors are answered with HTTP 200 and a non-zero code.
    /// bitable: a malformed body or parameter (a filter that does not parse, a page
    /// token that is not ours).
    BitableBadRequest = (1254000, 200, "WrongRequestJson"),
    /// bitable: no such table in the app.
    BitableTableNotFound = (1254004, 200, "WrongTableId"),
    /// bitable: a filter that names no field, or an operator we do not know.
    BitableInvalidFilter = (1254018, 200, "InvalidFilter"),
    /// bitable: no such app (bitable).
    BitableAppNotFound = (1254040, 200, "BaseTokenNotFound"),
    /// bitable: `field_names` or `sort` names no field.
    BitableFieldNotFound = (1254045, 200, "FieldNameNotFound"),
    /// bitable: the caller has no role on the bitable.
    BitableForbidden = (1254302, 200, "RolePermNotAllow"),
}

impl ErrorCode {
    /// The code for a number, for clients that read envelopes.
    pub fn from_code(code: i64) -> Option<Self> {
        ALL.iter().copied().find(|c| c.code() == code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        for c in ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(*c));
        }
        let mut nums: Vec<i64> = ALL.iter().map(|c| c.code()).collect();
        nums.sort();
        nums.dedup();
        assert_eq!(nums.len(), ALL.len());
    }

    #[test]
    fn download_statuses_match_the_seed_page() {
        assert_eq!(ErrorCode::NotFound.http_status(), 404);
        assert_eq!(ErrorCode::Deleted.http_status(), 404);
        assert_eq!(ErrorCode::Forbidden.http_status(), 403);
        assert_eq!(ErrorCode::ParamsError.http_status(), 400);
        assert_eq!(ErrorCode::Internal.http_status(), 500);
        assert_eq!(ErrorCode::MissingAccessToken.http_status(), 400);
    }
}
