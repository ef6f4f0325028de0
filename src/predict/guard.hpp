// The C++ predictors' (cascade, people, dnn) entry points are called from C:
// no C++ exception may cross the C table (undefined behaviour, in practice
// std::terminate). Each entry point runs its body through guarded().
#ifndef FC_PREDICT_GUARD_HPP
#define FC_PREDICT_GUARD_HPP

#include <cstddef>
#include <cstdio>
#include <exception>

// fn(), or fail with err "PREFIX: what" when it throws (cv::Exception,
// std::bad_alloc, ... are std::exceptions; anything else is named so).
template <class Fn> int guarded(const char *prefix, char *err, size_t errlen, int fail, Fn &&fn) {
    try {
        return fn();
    } catch (const std::exception &e) {
        snprintf(err, errlen, "%s: %s", prefix, e.what());
    } catch (...) {
        snprintf(err, errlen, "%s: unknown C++ exception", prefix);
    }
    return fail;
}

#endif
