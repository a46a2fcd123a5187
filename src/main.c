/*
 * src/main.c: flightsearch. Parses the command line and runs the server (src/http.c). Every log
 * line goes through fs_log (loaders/log.c).
 */
#include <stdio.h>
#include "loaders/loaders.h"
#include "src/server.h"

#ifdef FS_HAVE_JEMALLOC
/* jemalloc reads this at its first allocation. Pages freed by replaced segments (every delta
 * frees route arrays, every snapshot a whole source) go back to the kernel within a second from
 * jemalloc's own background thread, instead of waiting for later allocation activity that an
 * idle server never has (seen: 44 MB held dirty after a burst of deltas, 4.5 bytes per leg). */
const char *malloc_conf = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0";
#endif

int main(int argc, char **argv)
{
    fs_config_t cfg;
    char err[512];
    int r = fs_config_parse(&cfg, argc, argv, err, sizeof(err));
    if (r == 1)
        return 0;
    if (r != 0) {
        fs_log("%s", err);
        return 2;
    }
    return fs_server_run(&cfg);
}
