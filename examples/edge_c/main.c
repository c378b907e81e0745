/* A firmware-style user of a dlgn C model: only model.c / model.h, no dlgn runtime.
 *
 * usage: edge SAMPLES.bin
 * SAMPLES.bin holds N rows of dlgn_n_inputs bytes (each 0 or 1), row after row.
 * Prints the predicted class of each row, one per line. */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

int main(int argc, char **argv)
{
    FILE *f;
    long size;
    size_t n, i;
    uint8_t *x;
    int32_t *cls;

    if (argc != 2) {
        fprintf(stderr, "usage: %s SAMPLES.bin\n", argv[0]);
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        perror(argv[1]);
        return 1;
    }
    if (dlgn_n_inputs <= 0 || size % dlgn_n_inputs != 0) {
        fprintf(stderr, "%s: %ld bytes is not a whole number of %d-byte rows\n", argv[1], size,
                (int)dlgn_n_inputs);
        return 1;
    }
    n = (size_t)size / (size_t)dlgn_n_inputs;
    x = (uint8_t *)malloc((size_t)size + 1);
    cls = (int32_t *)malloc((n + 1) * sizeof(int32_t));
    if (!x || !cls || fread(x, 1, (size_t)size, f) != (size_t)size) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    fclose(f);
    if (dlgn_predict_mt(x, n, cls, 2) != 0) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (i = 0; i < n; i++)
        printf("%d\n", (int)cls[i]);
    free(x);
    free(cls);
    return 0;
}
