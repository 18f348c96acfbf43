// Package bench measures the transcoding path: the ladder end to end, the
// floor it is compared with (one decode, the scales that are needed and each
// x264 encode measured alone), and the reference ffmpeg CLI ladder run side
// by side (cmd/sidebyside, driven by compare.sh). TestLiveX264Candidates
// (x264live.sh) compares live x264 settings: the frames each holds a
// picture back, PSNR and bytes per rendition, and encode CPU.
package bench
