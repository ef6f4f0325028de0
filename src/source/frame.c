#include "source/frame.h"

#include <stdlib.h>
#include <string.h>

int fc_pixfmt_bpp(enum fc_pixfmt f) {
    return f == FC_PIX_RGB24 || f == FC_PIX_BGR24 ? 3 : 1;
}

fc_frame *fc_frame_new(enum fc_pixfmt format, int w, int h) {
    fc_frame *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    size_t y = (size_t)w * (size_t)h * (size_t)fc_pixfmt_bpp(format);
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    size_t c = format == FC_PIX_YUV420P ? (size_t)cw * (size_t)ch : 0;
    f->pixels = malloc(y + 2 * c + FC_FRAME_PADDING);
    if (!f->pixels) {
        free(f);
        return NULL;
    }
    /* Read (by SIMD loads whose extra lanes are dropped), so defined. */
    memset(f->pixels + y + 2 * c, 0, FC_FRAME_PADDING);
    f->view.data[0] = f->pixels;
    f->view.stride[0] = w * fc_pixfmt_bpp(format);
    if (c) {
        f->view.data[1] = f->pixels + y;
        f->view.data[2] = f->pixels + y + c;
        f->view.stride[1] = f->view.stride[2] = cw;
    }
    f->view.width = f->view.src_width = w;
    f->view.height = f->view.src_height = h;
    f->view.format = format;
    return f;
}

void fc_frame_free(fc_frame *f) {
    if (!f) return;
    fc_frame_free(f->preview);
    if (f->release) f->release(f->opaque);
    free(f->pixels);
    free(f);
}
