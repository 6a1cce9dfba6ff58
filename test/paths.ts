import * as path from "path";

/** The repository root, from the compiled test folder (bin/test). */
export const repoRoot = path.resolve(__dirname, "..", "..");
