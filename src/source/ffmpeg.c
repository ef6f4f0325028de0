/* The FFmpeg source: files, network cameras (rtsp://, http(s)://, HLS) and
 * V4L2 devices, demuxed and decoded with libavformat/libavcodec on the
 * source thread, converted once per frame with libswscale (or handed over
 * without a copy when the decoder already produces what the predictor wants).
 *
 * Live sources (network, devices) reconnect by themselves: an open failure,
 * an error, an end of stream or no frame for `timeout` seconds leads to a
 * reopen after a backoff of 0.5 s doubling to 30 s with +-20 % jitter,
 * forever unless retries=N. Files end at EOF, or loop with loop=1, and are
 * paced by their timestamps unless realtime=0. Video on demand over the
 * network (an HLS playlist with an end, an MP4 over HTTP: an input that
 * states its duration, known once it is open; never RTSP or a device) is
 * treated like a file: it ends at its end (loop=1 replays it, when it can
 * be seeked back to its start) and is paced unless realtime=0; it still
 * reconnects after an error. Only a real end is an end: a live input that
 * stops is reconnected, unless retries=N says otherwise.
 *
 * Pacing and the fps cap follow a media clock built from the differences
 * between consecutive timestamps, not the timestamps themselves: a step
 * backwards or forwards by more than jump_us (concatenated recordings, a
 * first frame without a timestamp, a camera's clock reset) counts as one
 * frame duration, so a jump never makes the source sleep for the gap nor
 * the cap drop every frame until the timestamps catch up. Pacing re-bases
 * on the wall clock when it falls behind by more than jump_us. A loop=1
 * pass continues the clock where the previous one ended (one frame
 * duration after its last frame), so looping a one-frame file runs at the
 * file's frame rate instead of spinning.
 *
 * A stream whose frames decode but cannot be converted into what the
 * predictor wants reports "failing" with the reason (and "live" again once
 * frames convert), instead of looking live while producing nothing.
 *
 * V4L2 devices: frames are always copied out of the decoder's buffers,
 * never borrowed. The rawvideo decoder hands out frames that point into the
 * device's mmap'ed capture buffers; a worker or the slot could still hold
 * one after avformat_close_input unmapped them (a reconnect, a stop): a
 * use-after-free. The device is opened non-blocking (AVFMT_FLAG_NONBLOCK)
 * because a blocking VIDIOC_DQBUF never calls the interrupt callback, so a
 * stalled camera would hang the stop; "no frame yet" (EAGAIN) is waited for
 * in 5 ms steps that check stop and the timeout.
 *
 * Options after the URL: fps=N (cap), loop=0|1, realtime=0|1,
 * transport=tcp|udp (rtsp), timeout=SECONDS (10), retries=N (-1: forever),
 * threads=N (decoder threads, 1). */
#include <errno.h>
#include <stdarg.h>
#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "source/source.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"
#include "util/opts.h"

#define FF_EOF 1 /* decode_loop: the input ended normally */
/* Timestamps beyond +-2^52 us (142 years) are taken as missing: the
 * arithmetic on them below then cannot overflow. */
#define PTS_LIMIT_US ((int64_t)1 << 52)
/* Consecutive frames that fail to convert before the stream says "failing". */
#define FAILING_AFTER 5

struct ff_source {
    fc_source base;
    char *url;                 /* what avformat opens */
    char *display;             /* the URL as given, for messages (credentials removed) */
    const AVInputFormat *ifmt; /* forced input format (v4l2), or NULL */
    int live;
    int may_be_vod;   /* a network input other than RTSP: video on demand if it has a duration */
    int vod;          /* this connection is video on demand: it ends like a file */
    int realtime_set; /* realtime= was given */
    /* options */
    double fps_cap;
    int loop, realtime, retries, threads;
    int64_t timeout_us;
    char transport[8];
    /* per connection */
    AVFormatContext *fmt;
    AVCodecContext *dec;
    int vstream;
    AVPacket *pkt;
    AVFrame *frm;
    fc_convert conv;
    /* across connections */
    atomic_int *stop;
    int64_t deadline_us;   /* for the blocking call in progress; 0 = none */
    int64_t last_frame_us; /* monotonic time of the last decoded frame */
    int64_t index;         /* next frame number */
    int64_t pts_offset_us; /* added to pts so loops keep increasing */
    int64_t frame_dur_us;  /* from the stream's frame rate */
    int64_t jump_us;       /* a timestamp step beyond this is a jump */
    /* this pass over the input (a connection, or one loop=1 pass) */
    int have_first;
    int64_t first_pts_us, last_pts_us, max_pts_us;
    /* the media clock (see the top of the file); across loop passes */
    int have_clock;
    int64_t last_t_us;    /* pts + offset of the previous frame */
    int64_t clock_us;     /* media clock at the previous frame */
    int64_t wall_base_us; /* realtime pacing: clock_base_us is due at wall_base_us */
    int64_t clock_base_us;
    int64_t next_due_us; /* fps cap: media clock of the next frame to keep */
    uint64_t jumps;      /* timestamp jumps seen (debug log) */
    int borrow_ok;       /* frames may point into the decoder's buffers */
    int bad_frames;      /* consecutive frames that could not be converted */
    uint64_t frames_since_open;
    uint64_t frames_since_rewind; /* loop=1 stops if a pass yields no frame */
};

static void set_error(struct ff_source *s, const char *what, int averr) {
    char e[AV_ERROR_MAX_STRING_SIZE] = "";
    if (averr) av_strerror(averr, e, sizeof e);
    /* Truncating a long path in the message is fine; the check keeps GCC's
     * -Wformat-truncation quiet about it. */
    if (snprintf(s->base.error, sizeof s->base.error, "%s%s%s", what, averr ? ": " : "", e) < 0)
        s->base.error[0] = 0;
}

static void status(struct ff_source *s, const char *state, const char *error, int attempt,
                   int retry_ms) {
    if (s->base.on_status) s->base.on_status(s->base.status_ud, state, error, attempt, retry_ms);
}

/* libavformat calls this during blocking I/O: non-zero aborts the call. */
static int interrupt_cb(void *opaque) {
    struct ff_source *s = opaque;
    if (atomic_load(s->stop)) return 1;
    return s->deadline_us && fc_mono_us() > s->deadline_us;
}

/* FFmpeg's own messages go to our log at debug level: what matters reaches
 * the user through the stream's status and our own messages. */
static void av_log_to_fc(void *avcl, int level, const char *fmt, va_list vl) {
    if (level > AV_LOG_WARNING) return;
    char line[512];
    int print_prefix = 1;
    av_log_format_line(avcl, level, fmt, vl, line, sizeof line, &print_prefix);
    line[strcspn(line, "\n")] = 0;
    char *safe = fc_redact_text(line); /* FFmpeg may name the URL it was given */
    fc_debug("ffmpeg: %s", safe ? safe : "(a message: no memory to show it)");
    free(safe);
}

static void close_input(struct ff_source *s) {
    avcodec_free_context(&s->dec);
    /* A fresh deadline: the last one may have passed while frames were
     * paced or waited for the slot, and the RTSP teardown would be cut. */
    s->deadline_us = fc_mono_us() + s->timeout_us;
    avformat_close_input(&s->fmt);
}

/* Every stream but keep is discarded: the demuxer skips its packets, and an
 * HLS master playlist does not download the variants that are not used. */
static void discard_others(AVFormatContext *fmt, int keep) {
    if (keep < 0) return;
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        fmt->streams[i]->discard = (int)i == keep ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
}

static int open_input(struct ff_source *s) {
    s->fmt = avformat_alloc_context();
    if (!s->fmt) return AVERROR(ENOMEM);
    s->fmt->interrupt_callback = (AVIOInterruptCB){interrupt_cb, s};
    s->fmt->flags |= AVFMT_FLAG_DISCARD_CORRUPT | AVFMT_FLAG_GENPTS;
    if (s->ifmt) s->fmt->flags |= AVFMT_FLAG_NONBLOCK; /* V4L2: see the top of the file */
    AVDictionary *o = NULL;
    if (strncmp(s->url, "rtsp://", 7) == 0) av_dict_set(&o, "rtsp_transport", s->transport, 0);
    s->deadline_us = fc_mono_us() + s->timeout_us;
    int rc = avformat_open_input(&s->fmt, s->url, s->ifmt, &o);
    av_dict_free(&o);
    if (rc < 0) { /* avformat_open_input freed the context */
        char what[600];
        snprintf(what, sizeof what, "cannot open '%s'", s->display);
        set_error(s, what, rc);
        return rc;
    }
    /* HLS: the demuxer stops downloading a variant whose streams are all
     * discarded only when it reads its first packet, which the stream probe
     * below does. Its streams are described by the header already, so the
     * video stream is chosen, and the others discarded, before the probe. */
    int pre = -1;
    if (strcmp(s->fmt->iformat->name, "hls") == 0) {
        pre = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
        discard_others(s->fmt, pre);
    }
    if ((rc = avformat_find_stream_info(s->fmt, NULL)) < 0) {
        set_error(s, "cannot read stream information", rc);
        return rc;
    }
    const AVCodec *codec = NULL;
    s->vstream = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, pre, -1, &codec, 0);
    if (s->vstream < 0) {
        snprintf(s->base.error, sizeof s->base.error,
                 s->vstream == AVERROR_DECODER_NOT_FOUND ? "'%s': no decoder for its video"
                                                         : "'%s' has no video stream",
                 s->display);
        return s->vstream;
    }
    discard_others(s->fmt, s->vstream);
    AVStream *st = s->fmt->streams[s->vstream];
    s->dec = avcodec_alloc_context3(codec);
    if (!s->dec) return AVERROR(ENOMEM);
    avcodec_parameters_to_context(s->dec, st->codecpar);
    s->dec->thread_count = s->threads;
    if ((rc = avcodec_open2(s->dec, codec, NULL)) < 0) {
        set_error(s, "cannot open the video decoder", rc);
        return rc;
    }
    s->base.width = s->dec->width;
    s->base.height = s->dec->height;
    AVRational r = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    s->base.fps = r.num && r.den ? av_q2d(r) : 0;
    s->frame_dur_us = s->base.fps >= 0.01 ? (int64_t)(1e6 / s->base.fps) : 33333;
    s->jump_us = 3 * s->frame_dur_us > 2000000 ? 3 * s->frame_dur_us : 2000000;
    /* Video on demand states its duration (an HLS playlist with
     * EXT-X-ENDLIST, a file over HTTP); a live input does not. A duration
     * guessed from the bit rate is not a statement. */
    int vod = s->may_be_vod && s->fmt->duration != AV_NOPTS_VALUE && s->fmt->duration > 0 &&
              s->fmt->duration_estimation_method != AVFMT_DURATION_FROM_BITRATE;
    if (s->may_be_vod)
        fc_debug("%s: %s", s->display, vod ? "video on demand: ends at its end" : "live");
    s->vod = vod;
    if (!s->realtime_set) s->realtime = !s->live || vod;
    if (s->loop && s->live && !vod)
        fc_warn("stream source '%s': loop=1 ignored: the input is live", s->display);
    return 0;
}

static void release_avframe(void *opaque) {
    AVFrame *f = opaque;
    av_frame_free(&f);
}

/* The frame's presentation time in microseconds, or AV_NOPTS_VALUE when it
 * has none or one that is not usable. */
static int64_t frame_pts_us(const AVStream *st, const AVFrame *frm) {
    int64_t ts = frm->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE || st->time_base.num <= 0 || st->time_base.den <= 0)
        return AV_NOPTS_VALUE;
    /* av_rescale_q saturates to INT64_MIN on overflow; hostile values end here. */
    int64_t us = av_rescale_q(ts, st->time_base, AV_TIME_BASE_Q);
    return us > -PTS_LIMIT_US && us < PTS_LIMIT_US ? us : AV_NOPTS_VALUE;
}

/* Advances the media clock to a frame at t (pts + offset): by the step
 * since the previous frame, or by one frame duration when that step is a
 * jump. */
static void advance_clock(struct ff_source *s, int64_t t) {
    if (!s->have_clock) {
        s->have_clock = 1;
        s->clock_us = s->clock_base_us = s->next_due_us = 0;
        s->wall_base_us = fc_mono_us();
    } else {
        int64_t step = t - s->last_t_us;
        if (step < 0 || step > s->jump_us) {
            if (s->jumps++ < 10)
                fc_debug("%s: timestamps jump by %lld ms; paced as one frame", s->display,
                         (long long)(step / 1000));
            step = s->frame_dur_us;
        }
        s->clock_us += step;
    }
    s->last_t_us = t;
}

/* Sleeps until the frame at the current media clock is due. Returns 1 when
 * stopped. */
static int pace(struct ff_source *s) {
    int64_t now = fc_mono_us();
    int64_t due = s->wall_base_us + (s->clock_us - s->clock_base_us);
    if (due < now - s->jump_us) { /* far behind (a slow consumer): start again from now */
        s->wall_base_us = now;
        s->clock_base_us = s->clock_us;
        return atomic_load(s->stop) != 0;
    }
    return fc_source_sleep_until(due, s->stop);
}

/* Counts a frame that could not be converted; after a few in a row the
 * stream says why it produces nothing. */
static void conversion_failed(struct ff_source *s, const AVFrame *frm) {
    if (++s->bad_frames != FAILING_AFTER) return;
    static const char *const names[] = {"yuv420p", "gray8", "rgb24", "bgr24", "yuv420p"};
    const char *in = av_get_pix_fmt_name(frm->format);
    const char *out = names[s->base.out.format <= FC_PIX_YUV420P ? s->base.out.format : 0];
    char why[256];
    snprintf(why, sizeof why,
             "'%s': cannot convert its frames (pixel format %s, %dx%d) into the %s frames the "
             "predictor wants%s",
             s->display, in ? in : "unknown", frm->width, frm->height, out,
             frm->width <= 0 || frm->height <= 0  ? ": the frames have no size"
             : !sws_isSupportedInput(frm->format) ? ": libswscale cannot read that format"
                                                  : "");
    fc_warn("stream source %s", why);
    status(s, "failing", why, 0, 0);
}

/* Turns a decoded frame into an fc_frame and hands it to the slot.
 * Returns 0, or 1 when the slot is closed. */
static int emit_frame(struct ff_source *s, AVFrame *frm, fc_slot *out) {
    AVStream *st = s->fmt->streams[s->vstream];
    int64_t pts_us = frame_pts_us(st, frm);
    if (pts_us == AV_NOPTS_VALUE) pts_us = s->have_first ? s->last_pts_us + s->frame_dur_us : 0;
    if (!s->have_first) {
        s->have_first = 1;
        s->first_pts_us = s->max_pts_us = pts_us;
    }
    if (pts_us > s->max_pts_us) s->max_pts_us = pts_us;
    s->last_pts_us = pts_us;
    advance_clock(s, pts_us + s->pts_offset_us);
    int64_t index = s->index++;
    s->last_frame_us = fc_mono_us();
    s->frames_since_open++;

    /* fps cap: drop before any conversion work. The media clock never goes
     * back, so a backward jump cannot make the cap drop every frame. */
    if (s->fps_cap > 0) {
        if (s->clock_us < s->next_due_us) return 0;
        int64_t step = (int64_t)(1e6 / s->fps_cap);
        s->next_due_us += step;
        if (s->next_due_us < s->clock_us) s->next_due_us = s->clock_us + step;
    }
    if (s->realtime && pace(s)) return 1;

    fc_frame *f;
    int full_range = frm->color_range == AVCOL_RANGE_JPEG;
    if (s->borrow_ok && fc_output_matches(&s->base.out, frm->format, frm->width, frm->height)) {
        /* Already what the predictor wants: borrow the decoder's buffer. */
        AVFrame *ref = av_frame_clone(frm);
        f = ref ? calloc(1, sizeof *f) : NULL;
        if (!f) {
            av_frame_free(&ref);
            return 0;
        }
        for (int i = 0; i < 3; i++) {
            f->view.data[i] = ref->data[i];
            f->view.stride[i] = ref->linesize[i];
        }
        f->view.width = f->view.src_width = frm->width;
        f->view.height = f->view.src_height = frm->height;
        f->view.format = fc_pixfmt_from_av(frm->format);
        f->release = release_avframe;
        f->opaque = ref;
    } else {
        f = fc_convert_image(&s->conv, (const uint8_t *const *)frm->data, frm->linesize,
                             frm->format, full_range, frm->width, frm->height, &s->base.out);
        if (!f) {
            conversion_failed(s, frm);
            return 0;
        }
    }
    if (s->bad_frames >= FAILING_AFTER) {
        fc_info("stream source '%s': frames convert again", s->display);
        status(s, "live", NULL, 0, 0);
    }
    s->bad_frames = 0;
    f->view.index = index;
    f->view.pts_us = pts_us + s->pts_offset_us;
    f->capture_us = fc_now_us();
    fc_source_attach_preview(&s->base, f, (const uint8_t *const *)frm->data, frm->linesize,
                             frm->format, full_range, frm->width, frm->height);
    return fc_slot_put(out, f) ? 1 : 0;
}

static int receive_frames(struct ff_source *s, fc_slot *out) {
    int rc;
    while ((rc = avcodec_receive_frame(s->dec, s->frm)) == 0) {
        int stopped = emit_frame(s, s->frm, out);
        av_frame_unref(s->frm);
        if (stopped) return 1;
        /* Pacing and waiting for the slot are not the source's silence. */
        s->last_frame_us = fc_mono_us();
        s->frames_since_rewind++;
    }
    return 0;
}

/* Seeks a file back to its start for loop=1. The next pass's timestamps
 * continue one frame duration after this pass's last frame. */
static int rewind_input(struct ff_source *s) {
    int64_t start = s->fmt->start_time == AV_NOPTS_VALUE ? 0 : s->fmt->start_time;
    /* A fresh deadline: pacing or a full slot may have outlived the last one,
     * and an interrupted seek would end the loop. */
    s->deadline_us = fc_mono_us() + s->timeout_us;
    int rc = avformat_seek_file(s->fmt, -1, INT64_MIN, start, start, 0);
    if (rc < 0) return rc;
    avcodec_flush_buffers(s->dec);
    s->pts_offset_us += s->max_pts_us + s->frame_dur_us - s->first_pts_us;
    s->have_first = 0;
    return 0;
}

/* Reads and decodes until EOF (FF_EOF), an error (< 0, error set) or stop (0). */
static int decode_loop(struct ff_source *s, fc_slot *out) {
    s->last_frame_us = fc_mono_us();
    while (!atomic_load(s->stop)) {
        s->deadline_us = fc_mono_us() + s->timeout_us;
        int rc = av_read_frame(s->fmt, s->pkt);
        if (rc == AVERROR_EOF || (rc < 0 && s->fmt->pb && avio_feof(s->fmt->pb))) {
            avcodec_send_packet(s->dec, NULL); /* drain the decoder */
            if (receive_frames(s, out)) return 0;
            if (s->loop && (!s->live || s->vod) && s->frames_since_rewind > 0) {
                if (rewind_input(s) == 0) {
                    s->frames_since_rewind = 0;
                    continue;
                }
                fc_warn("stream source '%s': loop=1: cannot seek back to the start; ended",
                        s->display);
            }
            set_error(s, "end of stream", 0);
            return FF_EOF;
        }
        if (rc == AVERROR(EAGAIN)) {
            /* A non-blocking device without a frame yet: wait a little; the
             * watchdog below ends the wait after timeout. */
            if (fc_source_sleep_until(fc_mono_us() + 5000, s->stop)) return 0;
        } else if (rc < 0) {
            if (atomic_load(s->stop)) return 0;
            if (rc == AVERROR_EXIT)
                snprintf(s->base.error, sizeof s->base.error, "no data for %lld s",
                         (long long)(s->timeout_us / 1000000));
            else
                set_error(s, "read error", rc);
            return rc;
        } else if (s->pkt->stream_index == s->vstream) {
            rc = avcodec_send_packet(s->dec, s->pkt);
            /* A corrupt packet is skipped; the decoder recovers at the next key frame. */
            if (rc < 0 && rc != AVERROR(EAGAIN)) fc_debug("%s: decode error, skipped", s->display);
            if (receive_frames(s, out)) {
                av_packet_unref(s->pkt);
                return 0;
            }
        }
        av_packet_unref(s->pkt);
        if (fc_mono_us() - s->last_frame_us > s->timeout_us) {
            snprintf(s->base.error, sizeof s->base.error, "no frame for %lld s",
                     (long long)(s->timeout_us / 1000000));
            return AVERROR(ETIMEDOUT);
        }
    }
    return 0;
}

static int ff_run(fc_source *src, fc_slot *out, atomic_int *stop) {
    struct ff_source *s = (struct ff_source *)src;
    s->stop = stop;
    s->pkt = av_packet_alloc();
    s->frm = av_frame_alloc();
    if (!s->pkt || !s->frm) return -ENOMEM;
    double backoff_s = 0.5;
    int attempt = 0, rc = 0;
    uint64_t seed = (uint64_t)fc_mono_us();
    while (!atomic_load(stop)) {
        if (attempt == 0) status(s, "connecting", NULL, 0, 0);
        s->frames_since_open = s->frames_since_rewind = 0;
        rc = open_input(s);
        if (rc == 0) {
            status(s, "live", NULL, 0, 0);
            rc = decode_loop(s, out);
            if (s->frames_since_open > 0) { /* it worked for a while: start over */
                backoff_s = 0.5;
                attempt = 0;
            }
        }
        close_input(s);
        /* A new connection starts a new timeline. */
        s->have_first = s->have_clock = 0;
        s->pts_offset_us = 0;
        s->bad_frames = 0;
        if (atomic_load(stop)) {
            rc = 0;
            break;
        }
        if (!s->live || (s->vod && rc == FF_EOF)) { /* a file, or video on demand, ended */
            rc = rc == FF_EOF ? 0 : rc;
            break;
        }
        attempt++;
        if (s->retries >= 0 && attempt > s->retries) {
            if (rc == FF_EOF) rc = 0; /* the stream ended and may not be retried: ended */
            break;
        }
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        double jitter = 0.8 + 0.4 * (double)(seed >> 11) / (double)(1ull << 53);
        int delay_ms = (int)(backoff_s * jitter * 1000);
        fc_warn("stream source '%s': %s; reconnecting in %d ms (attempt %d)", s->display,
                src->error, delay_ms, attempt);
        status(s, "reconnecting", src->error, attempt, delay_ms);
        if (fc_source_sleep_until(fc_mono_us() + (int64_t)delay_ms * 1000, stop)) break;
        backoff_s = backoff_s * 2 > 30 ? 30 : backoff_s * 2;
    }
    av_packet_free(&s->pkt);
    av_frame_free(&s->frm);
    fc_convert_free(&s->conv);
    return rc < 0 ? rc : 0;
}

static void ff_destroy(fc_source *src) {
    struct ff_source *s = (struct ff_source *)src;
    free(s->url);
    free(s->display);
    free(s);
}

int fc_ffmpeg_source_open(fc_source **out, const char *url_and_opts, char *err, size_t errlen) {
    char *copy = strdup(url_and_opts);
    if (!copy) {
        snprintf(err, errlen, "--source: out of memory");
        return -ENOMEM;
    }
    char *comma = strchr(copy, ',');
    if (comma) *comma = 0;
    const char *url = copy, *opts = comma ? comma + 1 : "";
    char ctx[600];
    char *shown = fc_redact_url(url); /* error messages never show credentials */
    snprintf(ctx, sizeof ctx, "--source '%s'", shown ? shown : "(hidden)");
    free(shown);

    struct ff_source *s = calloc(1, sizeof *s);
    fc_opts o = {0};
    int rc = FC_EINVAL_OPT;
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", ctx);
        rc = -ENOMEM;
        goto fail;
    }
    avdevice_register_all(); /* idempotent */
    av_log_set_callback(av_log_to_fc);
    if (strncmp(url, "v4l2:", 5) == 0) {
        s->ifmt = av_find_input_format("video4linux2");
        if (!s->ifmt) {
            snprintf(err, errlen, "%s: this FFmpeg has no V4L2 support", ctx);
            goto fail;
        }
        s->url = strdup(url + 5);
        s->live = 1;
    } else {
        const char *colon = strstr(url, "://");
        if (colon) {
            /* RTSP is a demuxer, not an AVIO protocol, so it is named here. */
            int rtsp = strncmp(url, "rtsp://", 7) == 0 || strncmp(url, "rtsps://", 8) == 0;
            const char *proto = rtsp ? "rtsp" : avio_find_protocol_name(url);
            if (!proto) {
                snprintf(err, errlen,
                         "%s: unknown URL scheme '%.*s' (expected a file path, rtsp://, "
                         "http(s)://, v4l2:/dev/videoN or synthetic:)",
                         ctx, (int)(colon - url), url);
                rc = FC_EUNKNOWN;
                goto fail;
            }
            s->live = strcmp(proto, "file") != 0;
            s->may_be_vod = s->live && !rtsp;
        }
        s->url = strdup(url);
    }
    s->display = fc_redact_url(url);
    if (!s->url || !s->display) {
        snprintf(err, errlen, "%s: out of memory", ctx);
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = fc_opts_parse(&o, ctx, opts, err, errlen))) goto fail;
    long v;
    double d;
    if ((rc = fc_opts_double(&o, "fps", 0, 0, 1000, &d, err, errlen))) goto fail;
    s->fps_cap = d;
    if ((rc = fc_opts_int(&o, "loop", 0, 0, 1, &v, err, errlen))) goto fail;
    s->loop = (int)v;
    s->realtime_set = fc_opts_get(&o, "realtime") != NULL; /* else: files and VOD are paced */
    if ((rc = fc_opts_int(&o, "realtime", !s->live, 0, 1, &v, err, errlen))) goto fail;
    s->realtime = (int)v;
    if ((rc = fc_opts_int(&o, "retries", -1, -1, 1000000, &v, err, errlen))) goto fail;
    s->retries = (int)v;
    if ((rc = fc_opts_int(&o, "threads", 1, 0, 64, &v, err, errlen))) goto fail;
    s->threads = (int)v;
    if ((rc = fc_opts_double(&o, "timeout", 10, 0.1, 3600, &d, err, errlen))) goto fail;
    s->timeout_us = (int64_t)(d * 1e6);
    const char *tr = fc_opts_get(&o, "transport");
    if (tr && strcmp(tr, "tcp") != 0 && strcmp(tr, "udp") != 0) {
        snprintf(err, errlen, "%s: transport='%s' is not valid (expected tcp or udp)", ctx, tr);
        rc = FC_EINVAL_OPT;
        goto fail;
    }
    snprintf(s->transport, sizeof s->transport, "%s", tr ? tr : "tcp");
    if ((rc = fc_opts_finish(&o, "fps, loop, realtime, retries, threads, timeout, transport", err,
                             errlen)))
        goto fail;
    if (s->loop && s->live && !s->may_be_vod) {
        snprintf(err, errlen, "%s: loop=1 applies to files and video on demand only", ctx);
        rc = FC_EINVAL_OPT;
        goto fail;
    }
    fc_opts_free(&o);
    free(copy);
    s->borrow_ok = !s->ifmt; /* never from a device's mmap'ed buffers (top of the file) */
    s->base = (fc_source){.kind = "ffmpeg", .run = ff_run, .destroy = ff_destroy};
    *out = &s->base;
    return 0;
fail:
    fc_opts_free(&o);
    if (s) ff_destroy(&s->base);
    free(copy);
    return rc ? rc : FC_EINVAL_OPT;
}
