// Audio files through libsndfile: WAV, FLAC, OGG/Vorbis (and whatever else the installed
// libsndfile reads), any sample rate, 8-32-bit integer or float samples, any number of
// channels mixed down to mono. Writing produces 16-bit PCM WAV.
//
// Thread safety: the functions are reentrant; they touch only the named file.
#pragma once

#include <cstdint>
#include <string>

#include "audio/audio_buffer.h"
#include "kernels/status.h"

namespace consilium::audio {

struct AudioFileInfo {
    int sampleRate = 0;    // Hz, as stored
    int channels = 0;      // as stored (the buffer returned is always mono)
    int64_t frames = 0;    // per channel, as stored
    std::string format;    // "WAV", "FLAC", "OGG", ... (libsndfile's major format name)
    std::string encoding;  // "Signed 16 bit PCM", "32 bit float", "Vorbis", ...
};

// Longest file readAudioFile accepts (guards memory against bogus headers).
constexpr double kMaxAudioFileSeconds = 3600.0;

// Reads `path` and mixes all channels to mono (arithmetic mean), samples scaled to
// [-1, 1] (float files are passed through as stored). `info`, when given, receives what
// the file holds.
// Errors: NotFound (no such file), CorruptFile (libsndfile cannot parse it, zero channels,
// a read shorter than the header promises), InvalidArgument (longer than
// kMaxAudioFileSeconds).
Result<AudioBuffer> readAudioFile(const std::string& path, AudioFileInfo* info = nullptr);

// Writes `audio` as a 16-bit PCM mono WAV file, clipping samples outside [-1, 1].
// Errors: InvalidArgument (sample rate <= 0), IoError (cannot create or write the file).
Status writeWav16(const std::string& path, const AudioBuffer& audio);

}  // namespace consilium::audio
