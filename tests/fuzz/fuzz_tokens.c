/*
 * tests/fuzz/fuzz_tokens.c: the input as the contents of a --tokens file, into
 * fs_tokens_parse_buffer (src/auth.c). Properties: the code is 0, FS_EINVAL or FS_ENOMEM; a
 * refusal leaves a NUL-terminated message that names the file ("--tokens <name>") and *out
 * untouched; a table that parses holds one entry per line that is neither blank nor a comment
 * (lines counted here as fgets into 4096 bytes would cut them, as the parser documents).
 */
#include <string.h>

#include "src/internal.h"
#include "tests/fuzz/fuzz.h"

static unsigned oracle_count(const uint8_t *data, size_t size)
{
    unsigned count = 0;
    size_t pos = 0;
    while (pos < size) {
        size_t n = 0;
        while (pos + n < size && n < 4095 && data[pos + n++] != '\n')
            ;
        size_t i = pos;
        while (i < pos + n && (data[i] == ' ' || data[i] == '\t'))
            i++;
        if (i < pos + n && data[i] != '#' && data[i] != '\n' && data[i] != '\r' && data[i] != '\0')
            count++;
        pos += n;
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char name[] = "fuzz.tokens";
    char err[512];
    fs_tokens_t *t = (fs_tokens_t *)&t; /* a marker: must stay as it is on refusal */
    memset(err, 0x5a, sizeof(err));
    int rc = fs_tokens_parse_buffer((const char *)data, size, name, &t, err, sizeof(err));
    FUZZ_ASSERT(rc == 0 || rc == FS_EINVAL || rc == FS_ENOMEM, "fs_tokens_parse_buffer returned %d", rc);
    if (rc != 0) {
        FUZZ_ASSERT(t == (fs_tokens_t *)&t, "*out written on refusal");
        FUZZ_ASSERT(fuzz_terminated(err, sizeof(err)) && strncmp(err, "--tokens fuzz.tokens", 20) == 0, "message: %.200s",
                    err);
        return 0;
    }
    unsigned want = oracle_count(data, size), got = fs_tokens_count(t);
    FUZZ_ASSERT(got >= 1 && got == want, "%u tokens parsed, %u token lines", got, want);
    fs_tokens_free(t);
    return 0;
}
