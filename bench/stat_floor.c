/*
 * The floor of any measurement that reads sizes from the files themselves:
 * one readdir() of a database directory, then one fstatat() per entry, on
 * N threads, with nothing else (no catalog, no SQL, no filtering).
 * bench/refresh.py runs it on the benchmark's own data directory so its full
 * refresh can be compared with the least a file-based refresh must pay.
 *
 *   stat_floor DIR THREADS   prints "entries readdir_ms stat_ms"
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef struct {
    int dirfd;
    char (*names)[64];
    long begin, end;
    long long bytes;
} Part;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *stat_part(void *arg)
{
    Part *p = arg;
    for (long i = p->begin; i < p->end; i++) {
        struct stat st;
        if (fstatat(p->dirfd, p->names[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
            p->bytes += st.st_size;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DIR THREADS\n", argv[0]);
        return 2;
    }
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "stat_floor: THREADS must be 1-64, not \"%s\"\n", argv[2]);
        return 2;
    }
    double t0 = now_ms();
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    long cap = 1 << 16, n = 0;
    char(*names)[64] = malloc(cap * sizeof *names);
    struct dirent *de;
    while (names && (de = readdir(d))) {
        if (de->d_name[0] == '.' || strlen(de->d_name) >= sizeof *names)
            continue;
        if (n == cap) {
            cap *= 2;
            names = realloc(names, cap * sizeof *names);
            if (!names)
                break;
        }
        strcpy(names[n++], de->d_name);
    }
    if (!names) {
        fprintf(stderr, "stat_floor: out of memory\n");
        return 1;
    }
    double t1 = now_ms();
    Part parts[64];
    pthread_t tids[64];
    for (int i = 0; i < threads; i++) {
        parts[i] = (Part){dirfd(d), names, n * i / threads, n * (i + 1) / threads, 0};
        if (i > 0 && pthread_create(&tids[i], NULL, stat_part, &parts[i]) != 0) {
            fprintf(stderr, "stat_floor: cannot start a thread\n");
            return 1;
        }
    }
    stat_part(&parts[0]);
    for (int i = 1; i < threads; i++)
        pthread_join(tids[i], NULL);
    double t2 = now_ms();
    printf("%ld %.1f %.1f\n", n, t1 - t0, t2 - t1);
    closedir(d);
    free(names);
    return 0;
}
