/*
 * loaders/log.c: the one way the process writes a log line (server and loaders alike), as text
 * ("flightsearch: MESSAGE[ trace_id=ID]") or, with --log-format json, as one JSON object per line
 * ({"time", "msg", "trace_id"?}). Each line leaves in a single write(2), so lines from different
 * threads never interleave. A loader thread sets the trace id of the push it applies, and every
 * line it writes meanwhile carries it (the request's traceparent, src/trace.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "loaders/loaders.h"

static int log_format = FS_LOG_TEXT; /* set once at start-up, before any thread logs */
static _Thread_local char thread_trace[FS_TRACE_ID_LEN + 1];

void fs_log_set_format(fs_log_format_t format)
{
    __atomic_store_n(&log_format, (int)format, __ATOMIC_RELAXED);
}

fs_log_format_t fs_log_get_format(void)
{
    return (fs_log_format_t)__atomic_load_n(&log_format, __ATOMIC_RELAXED);
}

void fs_log_set_thread_trace(const char *trace_id)
{
    snprintf(thread_trace, sizeof(thread_trace), "%s", trace_id != NULL ? trace_id : "");
}

size_t fs_json_escape(const char *s, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (size_t i = 0; i < len && n + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(out + n, "\\u00", 4);
            out[n + 4] = hex[c >> 4];
            out[n + 5] = hex[c & 15];
            n += 6;
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
    return n;
}

size_t fs_log_time(const struct timespec *ts, char out[32])
{
    struct tm tm;
    time_t sec = ts->tv_sec;
    gmtime_r(&sec, &tm);
    return (size_t)snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000);
}

void fs_log_write(const char *line, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, line, len);
        if (w <= 0)
            return; /* nowhere to report a failing stderr */
        line += w;
        len -= (size_t)w;
    }
}

static void vlog(const char *trace_id, const char *fmt, va_list ap)
{
    char msg[2048], line[6200];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n;
    if (fs_log_get_format() == FS_LOG_JSON) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char when[32], esc[6100];
        fs_log_time(&ts, when);
        fs_json_escape(msg, strlen(msg), esc, sizeof(esc));
        if (trace_id != NULL && trace_id[0] != '\0')
            n = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"msg\":\"%s\",\"trace_id\":\"%s\"}\n", when, esc, trace_id);
        else
            n = (size_t)snprintf(line, sizeof(line), "{\"time\":\"%s\",\"msg\":\"%s\"}\n", when, esc);
    } else if (trace_id != NULL && trace_id[0] != '\0') {
        n = (size_t)snprintf(line, sizeof(line), "flightsearch: %s trace_id=%s\n", msg, trace_id);
    } else {
        n = (size_t)snprintf(line, sizeof(line), "flightsearch: %s\n", msg);
    }
    fs_log_write(line, n < sizeof(line) ? n : sizeof(line) - 1);
}

void fs_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(thread_trace, fmt, ap);
    va_end(ap);
}

void fs_log_trace(const char *trace_id, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(trace_id, fmt, ap);
    va_end(ap);
}
