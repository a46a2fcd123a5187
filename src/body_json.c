/*
 * src/body_json.c: see src/body_json.h. One reader for the watch and trip bodies, which each had
 * their own copy.
 */
#include "src/body_json.h"

void fs_jp_skip_ws(fs_jp_t *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

int fs_jp_string(fs_jp_t *j, char *out, size_t cap)
{
    fs_jp_skip_ws(j); /* JSON allows whitespace before any value */
    if (j->p >= j->end || *j->p != '"')
        return -1;
    j->p++;
    size_t n = 0;
    while (j->p < j->end && *j->p != '"') {
        char c = *j->p++;
        if (c == '\\') {
            if (j->p >= j->end || (*j->p != '"' && *j->p != '\\' && *j->p != '/'))
                return -1;
            c = *j->p++;
        }
        if ((unsigned char)c < 0x20 || n + 1 >= cap)
            return -1;
        out[n++] = c;
    }
    if (j->p >= j->end)
        return -1;
    j->p++;
    out[n] = '\0';
    return 0;
}
