#include "source/frame.h"

#include <stdlib.h>

fc_frame *fc_frame_new_rgb(int w, int h) {
    fc_frame *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->pixels = malloc((size_t)w * (size_t)h * 3);
    if (!f->pixels) {
        free(f);
        return NULL;
    }
    f->view.data[0] = f->pixels;
    f->view.stride[0] = w * 3;
    f->view.width = f->view.src_width = w;
    f->view.height = f->view.src_height = h;
    f->view.format = FC_PIX_RGB24;
    return f;
}

void fc_frame_free(fc_frame *f) {
    if (!f) return;
    free(f->pixels);
    free(f);
}
