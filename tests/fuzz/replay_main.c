/*
 * tests/fuzz/replay_main.c: runs a fuzz target's LLVMFuzzerTestOneInput once on every file of
 * the folders named on the command line, without libFuzzer, so that the normal builds (gcc;
 * release and ASan+UBSan) replay the corpora and the crash reproducers as regression tests.
 *
 *   fuzz_replay_<name> CORPUS_DIR [MORE_DIR...]
 *
 * CORPUS_DIR must hold at least one file: a replay of nothing would pass without testing
 * anything. The other folders (tests/fuzz/<name>/crashes/) may be absent or empty. Each input is
 * copied into a buffer of exactly its size, as libFuzzer does, so that ASan sees any overread.
 * A broken property aborts (FUZZ_ASSERT); the name of the file being run is printed first.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of dir in name order. Returns how many ran, or -1 when dir cannot be
 * read (errno set). */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof(*names));
            if (names == NULL) {
                perror("realloc");
                exit(2);
            }
        }
        names[count++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, count, sizeof(*names), by_name);

    long ran = 0;
    for (size_t i = 0; i < count; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        free(names[i]);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        FILE *fp = fopen(path, "rb");
        if (fp == NULL) {
            fprintf(stderr, "%s: %s\n", path, strerror(errno));
            exit(2);
        }
        size_t size = (size_t)st.st_size;
        uint8_t *data = malloc(size ? size : 1);
        if (data == NULL || fread(data, 1, size, fp) != size) {
            fprintf(stderr, "%s: cannot read\n", path);
            exit(2);
        }
        fclose(fp);
        fprintf(stderr, "replay %s (%zu bytes)\n", path, size);
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        ran++;
    }
    free(names);
    return ran;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [MORE_DIR...]\n", argv[0]);
        return 2;
    }
    long total = 0;
    for (int i = 1; i < argc; i++) {
        long n = replay_dir(argv[i]);
        if (i == 1 && n <= 0) {
            fprintf(stderr, "%s: %s\n", argv[i], n < 0 ? strerror(errno) : "no inputs: the corpus is empty");
            return 1;
        }
        if (n > 0)
            total += n;
    }
    printf("%ld inputs replayed, no property broken\n", total);
    return 0;
}
