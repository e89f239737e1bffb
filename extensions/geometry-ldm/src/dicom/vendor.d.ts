// Packages without type declarations (their shapes are typed where they are used).
declare module '@cornerstonejs/codec-openjpeg/decodewasmjs';
declare module '@cornerstonejs/codec-charls/decodewasmjs';
declare module 'dcmjs';
declare module 'xhr2';
