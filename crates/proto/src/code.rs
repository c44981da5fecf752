//! Feishu's error codes: code → HTTP status → message, written down once.

/// Every error code the server answers with. The message is Feishu's own text, byte for
/// byte where it is known (wire contract §1, §3, §4, §6), so clients that match on it work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// No `Authorization`, or not `Bearer <token>`.
    MissingAccessToken,
    /// Unknown or expired tenant token, or an app token where it is not accepted.
    InvalidTenantToken,
    /// Unknown user token.
    InvalidUserToken,
    /// A user token that has expired.
    UserTokenExpired,
    /// A token of no known form.
    InvalidTokenForm,
    /// The app (tenant token) lacks every accepted scope.
    AppScopeMissing,
    /// The user (user token) granted none of the accepted scopes.
    UserScopeMissing,
    /// Over a rate limit.
    RateLimited,
    /// Storage trouble; details only in the log.
    Internal,
    /// A parameter is missing or malformed.
    ParamsError,
    /// No media with that token.
    NotFound,
    /// The caller may not see (or change) the document.
    Forbidden,
    /// The media was deleted.
    Deleted,
    /// Upload: a bad file name.
    FileNameInvalid,
    /// Upload: an upload id that is unknown or too old.
    UploadIdExpired,
    /// Upload: the file is over the size limit.
    FileTooLarge,
    /// Upload: `parent_node` names no document.
    ParentNodeNotExist,
    /// Transient trouble; the client may retry.
    CanRetry,
    /// Upload: another caller's upload id.
    UploadUserMismatch,
    /// Upload: checksum mismatch.
    ChecksumInvalid,
    /// Upload: size does not match the bytes received.
    SizeMismatch,
    /// Chunked upload: a block is missing.
    BlockMissing,
    /// Chunked upload: `seq` or `block_num` out of range.
    BlockNumOutOfBounds,
    /// Token endpoints: unknown `app_id` or malformed body (answered with HTTP 200).
    InvalidParam,
    /// Token endpoints: wrong `app_secret` (answered with HTTP 200).
    AppSecretInvalid,
}

impl ErrorCode {
    /// The number in the envelope's `code`.
    pub const fn code(self) -> i64 {
        use ErrorCode::*;
        match self {
            MissingAccessToken => 99991661,
            InvalidTenantToken => 99991663,
            InvalidUserToken => 99991668,
            UserTokenExpired => 99991677,
            InvalidTokenForm => 99991671,
            AppScopeMissing => 99991672,
            UserScopeMissing => 99991679,
            RateLimited => 99991400,
            Internal => 1061001,
            ParamsError => 1061002,
            NotFound => 1061003,
            Forbidden => 1061004,
            Deleted => 1061007,
            FileNameInvalid => 1061008,
            UploadIdExpired => 1061021,
            FileTooLarge => 1061043,
            ParentNodeNotExist => 1061044,
            CanRetry => 1061045,
            UploadUserMismatch => 1062007,
            ChecksumInvalid => 1062008,
            SizeMismatch => 1062009,
            BlockMissing => 1062010,
            BlockNumOutOfBounds => 1062011,
            InvalidParam => 10003,
            AppSecretInvalid => 10014,
        }
    }

    /// The HTTP status Feishu answers this code with.
    pub const fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MissingAccessToken | InvalidTenantToken | InvalidUserToken | UserTokenExpired
            | InvalidTokenForm | AppScopeMissing | UserScopeMissing => 400,
            RateLimited => 429,
            Internal => 500,
            NotFound | Deleted => 404,
            Forbidden => 403,
            ParamsError | FileNameInvalid | UploadIdExpired | FileTooLarge | ParentNodeNotExist
            | UploadUserMismatch | ChecksumInvalid | SizeMismatch | BlockMissing
            | BlockNumOutOfBounds => 400,
            // Feishu answers 1061045 on a 400 in the wild; clients key on the code.
            CanRetry => 400,
            InvalidParam | AppSecretInvalid => 200,
        }
    }

    /// Feishu's message for this code. The scope errors append the scope list (see
    /// [`crate::scope::scope_error_message`]).
    pub const fn message(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MissingAccessToken => {
                "Missing access token for authorization. Please make a request with token attached."
            }
            // Feishu's text for 99991663 has no final full stop; 99991668's has one.
            InvalidTenantToken => {
                "Invalid access token for authorization. Please make a request with token attached"
            }
            InvalidUserToken => {
                "Invalid access token for authorization. Please make a request with token attached."
            }
            UserTokenExpired => "token expire",
            InvalidTokenForm => "Invalid token: must start with t-/u-",
            AppScopeMissing => "Access denied. One of the following scopes is required:",
            UserScopeMissing => {
                "Unauthorized. You do not have permission to perform the requested operation on the resource. Please request user re-authorization and try again. required one of these privileges:"
            }
            RateLimited => "request trigger frequency limit",
            Internal => "internal error.",
            ParamsError => "params error.",
            NotFound => "not found.",
            Forbidden => "forbidden.",
            Deleted => "file has been delete.",
            FileNameInvalid => "file name invalid.",
            UploadIdExpired => "upload id expire.",
            FileTooLarge => "file size beyond limit.",
            ParentNodeNotExist => "parent node not exist.",
            CanRetry => "can retry.",
            UploadUserMismatch => "upload user not match.",
            ChecksumInvalid => "checksum param invalid.",
            SizeMismatch => "file size not match.",
            BlockMissing => "block missing, please upload all blocks.",
            BlockNumOutOfBounds => "block num out of bounds.",
            InvalidParam => "invalid param",
            AppSecretInvalid => "app secret invalid",
        }
    }

    /// The code for a number, for clients that read envelopes.
    pub fn from_code(code: i64) -> Option<Self> {
        ALL.iter().copied().find(|c| c.code() == code)
    }
}

/// Every code, for lookups and exhaustive tests.
pub const ALL: &[ErrorCode] = {
    use ErrorCode::*;
    &[
        MissingAccessToken,
        InvalidTenantToken,
        InvalidUserToken,
        UserTokenExpired,
        InvalidTokenForm,
        AppScopeMissing,
        UserScopeMissing,
        RateLimited,
        Internal,
        ParamsError,
        NotFound,
        Forbidden,
        Deleted,
        FileNameInvalid,
        UploadIdExpired,
        FileTooLarge,
        ParentNodeNotExist,
        CanRetry,
        UploadUserMismatch,
        ChecksumInvalid,
        SizeMismatch,
        BlockMissing,
        BlockNumOutOfBounds,
        InvalidParam,
        AppSecretInvalid,
    ]
};

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
