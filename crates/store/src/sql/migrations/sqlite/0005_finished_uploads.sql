-- A finished upload keeps its session, with the token of the media it became, until the
-- session expires: a finish repeated after a lost answer gets the same token.
ALTER TABLE uploads ADD COLUMN file_token TEXT;
