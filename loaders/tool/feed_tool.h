/*
 * loaders/tool/feed_tool.h: flightsearch-feed, the feed operators' command-line tool. Private to
 * the tool; ft_ is its prefix. The tool is a thin layer over loaders.h: validate and the checks
 * inside convert and push run fs_feed_decode, the very code the server runs on a push.
 *
 *   main.c      command dispatch, the top-level --help, exit codes
 *   common.c    option parsing, mapping files, telling kind and format from a name, printing
 *               feed errors for people
 *   tree.c      a small value tree (JSON in through the loaders' reader, msgpack or JSON out)
 *   validate.c  validate
 *   convert.c   convert (CSV and JSON Lines in, a snapshot or delta out)
 *   push.c      push (libcurl)
 *
 * Single-threaded throughout.
 */
#ifndef FS_FEED_TOOL_H
#define FS_FEED_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <msgpack.h>

#include "loaders/loaders.h"

#define FT_NAME "flightsearch-feed"
#define FT_VERSION "0.1.0"

/** Exit codes, the same for every command (listed in --help). */
enum {
    FT_EXIT_OK = 0,        /* valid, converted, or applied by the server */
    FT_EXIT_REFUSED = 1,   /* the feed or the input is invalid, or the server refused the push */
    FT_EXIT_USAGE = 2,     /* bad command line, or an input file that cannot be read */
    FT_EXIT_TRANSPORT = 3, /* the server could not be reached, or answered 5xx after the retries */
};

/* ------------------------------------------------------------ options */

/** One option of a command: "--name VALUE" (also "--name=VALUE") when value is set, else a flag
 *  ("--name") that sets *flag to 1. */
typedef struct ft_opt {
    const char *name;
    const char **value;
    int *flag;
} ft_opt_t;

/**
 * Parses argv[1..argc) of a command (argv[0] is the command's name): options in opts (a list
 * ending with a zeroed entry), "-h"/"--help", "--" to end the options, and at most max_pos
 * positional arguments in any order among the options into pos[]. Returns 0 with *npos set, 1
 * when --help was asked (usage printed to stdout), or FT_EXIT_USAGE after printing the problem.
 */
int ft_parse_args(int argc, char **argv, const ft_opt_t *opts, void (*usage)(FILE *), const char **pos, int max_pos, int *npos);

/** Prints "flightsearch-feed CMD: <message>\n(see flightsearch-feed CMD --help)" to stderr and
 *  returns FT_EXIT_USAGE. */
__attribute__((format(printf, 2, 3))) int ft_usage_error(const char *cmd, const char *fmt, ...);

/** realloc, or exit with a message when memory runs out (exit code 2). */
void *ft_xrealloc(void *p, size_t n);

/* -------------------------------------------------------------- files */

/** A read-only mapping of a whole file; an empty file maps to data == NULL, len == 0. */
typedef struct ft_map {
    const uint8_t *data;
    size_t len;
} ft_map_t;

/** Maps path read-only (MADV_SEQUENTIAL). 0, or an errno value. */
int ft_map_file(const char *path, ft_map_t *m);
void ft_unmap(ft_map_t *m);

/** 1 when s ends with suffix (and is longer). */
int ft_ends_with(const char *s, const char *suffix);

/**
 * The format of a feed file: "msgpack" or "json" from the --format option when given, else from
 * the name (.msgpack or .json). 0, or FS_EINVAL after writing why into err.
 */
int ft_feed_format(const char *path, const char *format_opt, fs_feed_format_t *out, char *err, size_t errcap);

/** Delta when --delta, snapshot when --snapshot, else a delta when the file's name (its last
 *  path component) contains ".delta.". Both flags at once is a usage error: FS_EINVAL. */
int ft_feed_kind(const char *path, int delta_flag, int snapshot_flag, fs_feed_kind_t *out);

/* ---------------------------------------------------------- checking */

/** What a valid feed held (counted by a sink; the sink sees records only while all is valid). */
typedef struct ft_counts {
    uint64_t legs;    /* snapshot legs or delta upserts */
    uint64_t removes; /* delta removes */
} ft_counts_t;

/** fs_feed_decode over a whole body with a counting sink. Same returns as fs_feed_decode. */
int ft_check(const uint8_t *body, size_t len, fs_feed_format_t format, fs_feed_kind_t kind, const char *expected_source,
             fs_feed_header_t *hdr, ft_counts_t *counts, fs_feed_errors_t *errs);

/** "valid snapshot of source tap, sequence 42, 3 legs" (or "valid delta ..., 2 upserts, 1 remove"). */
void ft_describe(char *out, size_t cap, fs_feed_kind_t kind, const fs_feed_header_t *hdr, const ft_counts_t *counts);

/** Writes the JSON error document of errs (fs_feed_errors_json) and a newline to fp. */
void ft_print_errors_json(FILE *fp, const fs_feed_errors_t *errs);

/**
 * Writes errs for people to fp, one problem a line, each prefixed with indent:
 * "record 3, field cabins.economy.miles: must be ...", "upsert record 0, field flight: ...",
 * "field sequence: ...", and "... and N more problems" when not all are listed.
 */
void ft_print_errors_text(FILE *fp, const char *indent, const fs_feed_errors_t *errs, fs_feed_kind_t kind);

/** Prints what a refused feed needs (both outputs: JSON on stdout, the list on stderr, headed by
 *  "<what>: refused (<code>): <message>") and returns FT_EXIT_REFUSED. */
int ft_report_refused(const char *what, const fs_feed_errors_t *errs, fs_feed_kind_t kind);

/* --------------------------------------------------------------- tree */

/*
 * A value tree in one array, in pre-order: a container is followed by its children (a map by
 * key, value, key, value ...), and each node knows the size of its subtree, so siblings are
 * reached by skipping. Strings are copied into one byte pool. Used for a JSON Lines record on
 * its way to msgpack or JSON, for a CSV leg, and for reading the server's answers.
 */
typedef enum ft_type { FT_NIL, FT_BOOL, FT_UINT, FT_INT, FT_FLOAT, FT_STR, FT_MAP, FT_ARRAY } ft_type_t;

typedef struct ft_node {
    ft_type_t type;
    uint32_t count; /* FT_MAP: pairs; FT_ARRAY: elements */
    uint32_t size;  /* nodes in the subtree, itself included */
    union {
        uint64_t u;
        int64_t i;
        int b;
        struct {
            uint32_t off, len; /* FT_STR and FT_FLOAT (the number's text) in the pool */
        } s;
    } v;
} ft_node_t;

typedef struct ft_tree {
    ft_node_t *n;
    size_t count, cap;
    char *pool;
    size_t pool_len, pool_cap;
} ft_tree_t;

void ft_tree_init(ft_tree_t *t);
void ft_tree_reset(ft_tree_t *t); /* empty, keeping the memory */
void ft_tree_free(ft_tree_t *t);

/** Builders. Open a container, add its children, close it. Each returns the node's index. */
long ft_tree_open(ft_tree_t *t, ft_type_t type);
void ft_tree_close(ft_tree_t *t, long idx);
long ft_tree_str(ft_tree_t *t, const char *s, size_t len);
long ft_tree_uint(ft_tree_t *t, uint64_t u);
long ft_tree_int(ft_tree_t *t, int64_t i);

/** The string of an FT_STR or FT_FLOAT node (not NUL-terminated; length in n->v.s.len). */
static inline const char *ft_tree_text(const ft_tree_t *t, const ft_node_t *n)
{
    return t->pool + n->v.s.off;
}

/** The value of key in the map at index map, or -1. */
long ft_tree_get(const ft_tree_t *t, long map, const char *key);
/** A string field copied into buf (truncated to cap); NULL when missing or not a string. */
const char *ft_tree_get_str(const ft_tree_t *t, long map, const char *key, char *buf, size_t cap);
/** An integer field: 1 and *out, or 0. */
int ft_tree_get_int(const ft_tree_t *t, long map, const char *key, int64_t *out);

/**
 * Parses one JSON document text[0..len) (strict, by the loaders' JSON reader) into t, after
 * whatever t holds; the root is the first node added. Returns the root's index, or -1 with the
 * problem in err ("expected ',' or '}', got 'x' at byte 12"). A number with a fraction or an
 * exponent becomes FT_FLOAT holding its text; *float_path (when not NULL) receives the path of the
 * first such number ("cabins.economy.miles", "" for the root) and *float_node its index, else -1.
 */
long ft_tree_parse_json(ft_tree_t *t, const char *text, size_t len, char *err, size_t errcap, char *float_path, size_t pathcap,
                        long *float_node);

/** Appends the subtree at idx to out as msgpack (msgpack-c's packer) or as compact JSON. */
void ft_tree_encode(const ft_tree_t *t, long idx, fs_feed_format_t format, msgpack_sbuffer *out);

/** Appends a JSON string literal (quotes and escapes) to out. */
void ft_json_string(msgpack_sbuffer *out, const char *s, size_t len);

/* ----------------------------------------------------------- commands */

int ft_cmd_validate(int argc, char **argv);
int ft_cmd_convert(int argc, char **argv);
int ft_cmd_push(int argc, char **argv);

void ft_validate_usage(FILE *fp);
void ft_convert_usage(FILE *fp);
void ft_push_usage(FILE *fp);

#endif
