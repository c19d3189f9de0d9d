/** Plot-ready data from volumes: axial slices, windowing, montages, PNG/HTML/plotly figures. */
export * from './slices';
export * from './image';
export * from './png';
export * from './figures';
export * from './curves';
export * from './report';
export * from './notebook';
export * from './ct';
export * from './reconstruction';
