/*
 * src/body_json.h: the reader of the small JSON bodies clients POST (a watch, a multi-city trip).
 * Not a general JSON parser: strings carry codes, dates, names and URLs, so only the escapes
 * \" \\ \/ are taken. Pure functions over a cursor; any thread.
 */
#ifndef FS_BODY_JSON_H
#define FS_BODY_JSON_H

#include <stddef.h>

/** A cursor over the body: the next byte to read and the end. */
typedef struct fs_jp {
    const char *p, *end;
} fs_jp_t;

/** Skips JSON whitespace. */
void fs_jp_skip_ws(fs_jp_t *j);
/** Reads a string (after any whitespace, then its opening quote) into out, NUL-terminated; -1 when it
 *  is malformed, holds another escape or a control character, or does not fit cap. */
int fs_jp_string(fs_jp_t *j, char *out, size_t cap);

#endif
