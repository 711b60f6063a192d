/** How a Git LFS pointer starts: a clone without LFS leaves these small text files in place of the files. */
export const GIT_LFS_POINTER_START = 'version https://git-lfs.github.com/spec/';
